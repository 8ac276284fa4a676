package portal

import (
	"net/http"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/registry/registrytest"
)

// TestSlowBodyIsCutOff is the slow-body attack on the portal: a form post whose body comes a
// byte every 200 ms is cut off by -read-timeout, and an API write without the token is answered
// 401 and closed without waiting for its body.
func TestSlowBodyIsCutOff(t *testing.T) {
	const readTimeout = time.Second
	hub := "http://" + registrytest.StartHub(t)
	addr, _, stop := testkit.StartRun(t, Run, []string{"-listen", "127.0.0.1:0", "-registry", hub,
		"-read-timeout", readTimeout.String(), "-token", "secret"}, nil)
	defer stop()
	form := testkit.SlowBody{Method: http.MethodPost, Path: "/students", ContentLength: 100_000,
		Every: 200 * time.Millisecond, Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}}
	res := form.Send(t, addr, readTimeout+10*time.Second)
	t.Logf("figure: portal: a trickled form post cut off after %v (%d bytes sent), answer %d", res.Closed.Round(time.Millisecond), res.Sent, res.Status)
	if res.Status == http.StatusSeeOther {
		t.Errorf("the trickled form post was taken")
	}

	api := testkit.SlowBody{Method: http.MethodPost, Path: "/api/v1/students", ContentLength: 100_000,
		Every: 200 * time.Millisecond, Fill: ' ', Header: http.Header{"Content-Type": {"application/json"}}}
	res = api.Send(t, addr, readTimeout+10*time.Second)
	t.Logf("figure: portal: a trickled API write without the token closed after %v, answer %d", res.Closed.Round(time.Millisecond), res.Status)
	if res.Status != http.StatusUnauthorized || res.Closed >= readTimeout {
		t.Errorf("without the token: answer %d, closed after %v; want 401 and closed before the %v read deadline", res.Status, res.Closed, readTimeout)
	}
}
