package registrytest_test

import (
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gradebook/gradebook/registry/registrytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestTargetSwitchesStatus(t *testing.T) {
	tg := registrytest.NewTarget(t)
	for _, code := range []int{http.StatusOK, http.StatusTooManyRequests, http.StatusInternalServerError} {
		tg.SetStatus(code)
		resp, err := http.Get(tg.HealthURL())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != code {
			t.Errorf("status = %d, want %d", resp.StatusCode, code)
		}
	}
	tg.Close()
	if _, err := http.Get(tg.HealthURL()); err == nil {
		t.Error("a closed target still answers")
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestConsulStartsAndRestarts(t *testing.T) {
	start := time.Now()
	c := registrytest.NewConsul(t)
	t.Logf("consul agent ready at %s in %v", c.Addr(), time.Since(start).Round(time.Millisecond))
	start = time.Now()
	c.Restart()
	if err := registrytest.WaitLeader(c.Addr(), 10*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted in %v", time.Since(start).Round(time.Millisecond))
}
