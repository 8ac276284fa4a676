package service_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/pkg/config"
	"github.com/gradebook/gradebook/pkg/service"
	"github.com/gradebook/gradebook/registry/registrytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testkit.LeakOptions()...) }

func get(t *testing.T, url string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestLifecycle runs a service on the real hub: it registers and turns passing, runs what waits
// for its registration, serves the common routes and error shapes, and on shutdown ends what it
// started, deregisters and returns nil.
func TestLifecycle(t *testing.T) {
	hub := registrytest.Hub(registrytest.StartHub(t))
	c := hub.Client(t)
	cfg := config.Common{Listen: "127.0.0.1:0", Registry: hub.URL(), Name: "lifecycle", LogLevel: "info", CheckInterval: 100 * time.Millisecond}
	var stderr bytes.Buffer
	rt, err := service.New(cfg, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	rt.Router.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) { panic("a handler bug") }).Methods(http.MethodGet)
	knownWhenRun := make(chan bool, 1)
	rt.WhenRegistered(func(context.Context) {
		_, _, err := c.Agent().Service(rt.Registration().ID, nil)
		knownWhenRun <- err == nil
	})
	var endedAtShutdown atomic.Bool
	rt.WhenRegistered(func(ctx context.Context) {
		<-ctx.Done()
		endedAtShutdown.Store(true)
	})
	if a, b := rt.GroupedInstancer("dep", "store_id", "http"), rt.GroupedInstancer("dep", "store_id", "http"); a != b {
		t.Error("two GroupedInstancers for the same dependency")
	}
	stop := serve(t, rt)
	base := "http://" + rt.Addr()

	testkit.Eventually(t, 5*time.Second, "passing in the registry", func() bool {
		return len(registrytest.PassingIDs(t, c, "lifecycle", "")) == 1
	})
	select {
	case known := <-knownWhenRun:
		if !known {
			t.Error("a function given to WhenRegistered ran before the registry knew the service")
		}
	case <-time.After(5 * time.Second):
		t.Error("a function given to WhenRegistered did not run within 5s of the registration")
	}
	if status, _, body := get(t, base+"/health"); status != 200 || !strings.Contains(body, `"passing"`) {
		t.Errorf("/health = %d %s", status, body)
	}
	if status, hdr, body := get(t, base+"/nowhere", "X-Request-ID", "req-42"); status != 404 || !strings.Contains(body, `"error"`) || hdr.Get("X-Request-ID") != "req-42" {
		t.Errorf("unknown route = %d %s (request ID %q)", status, body, hdr.Get("X-Request-ID"))
	}
	if status, _, body := get(t, base+"/hello"); status != 500 || !strings.Contains(body, `"error"`) {
		t.Errorf("a panicking handler = %d %s, want a 500 JSON answer", status, body)
	}
	req, _ := http.NewRequest(http.MethodDelete, base+"/health", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("DELETE /health = %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	_, _, metrics := get(t, base+"/metrics")
	for _, want := range []string{`gradebook_http_requests_total{method="GET",route="/health",status="200"}`, `route="unmatched",status="404"`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	stop() // fails the test unless Serve returns nil within 15s
	if !endedAtShutdown.Load() {
		t.Error("Serve returned before a function given to WhenRegistered had ended")
	}
	if ids := registrytest.PassingIDs(t, c, "lifecycle", ""); len(ids) != 0 {
		t.Errorf("still registered after shutdown: %v", ids)
	}
	for _, want := range []string{"msg=registered", "msg=\"handler panicked\"", "msg=deregistered"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("logs lack %s", want)
		}
	}
}
