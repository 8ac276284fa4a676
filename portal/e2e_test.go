package portal

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	gradingserver "github.com/gradebook/gradebook/grading/server"
	"github.com/gradebook/gradebook/logging"
	"github.com/gradebook/gradebook/registry/registrytest"
)

// TestThroughTheHub runs the real thing end to end in one process: the built-in hub, gradingserver.Run,
// logging.Run and the portal's runtime finding both through the registry. Grading stopped, the pages
// answer the 503 page and the gateway 503 JSON; grading back on the same data, both recover on
// their own.
func TestThroughTheHub(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end through the hub; skipped with -short")
	}
	hub := "http://" + registrytest.StartHub(t)
	gradingAddr := deadAddr(t) // free now; grading binds it
	data := t.TempDir()
	startGrading := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- gradingserver.Run(ctx, []string{"-listen", gradingAddr, "-grpc-listen", "127.0.0.1:0", "-registry", hub, "-data", data,
				"-check-interval", "200ms", "-log-level", "warn"}, func(string) string { return "" }, io.Discard)
		}()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("grading: %v", err)
			}
		}
	}
	stopGrading := startGrading()
	defer func() { stopGrading() }()

	logAddr := deadAddr(t)
	logCtx, stopLog := context.WithCancel(context.Background())
	logDone := make(chan error, 1)
	go func() {
		logDone <- logging.Run(logCtx, []string{"-listen", logAddr, "-registry", hub, "-data", t.TempDir(),
			"-check-interval", "200ms", "-log-level", "warn"}, func(string) string { return "" }, io.Discard)
	}()
	defer func() {
		stopLog()
		if err := <-logDone; err != nil {
			t.Errorf("log service: %v", err)
		}
	}()

	rt, err := newRuntime([]string{"-listen", "127.0.0.1:0", "-registry", hub, "-check-interval", "200ms", "-log-level", "warn"},
		func(string) string { return "" }, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := servePortal(t, rt)
	defer func() {
		if err := p.stop(t); err != nil {
			t.Errorf("portal: %v", err)
		}
	}()
	base, client, get := p.base, p.client, p.get
	eventually := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 15s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	eventually("the portal finds grading through the hub", func() bool {
		code, body := get("/students")
		return code == 200 && strings.Contains(body, "Kylee Attwood")
	})
	resp, err := client.PostForm(base+"/students/3/grades", map[string][]string{"title": {"Final"}, "type": {"Test"}, "score": {"100"}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("post the grade form: %v %v", resp, err)
	}
	resp.Body.Close()
	if code, body := get("/students/3"); code != 200 || !strings.Contains(body, "<td>Final</td>") || !strings.Contains(body, `id="average">91.8`) {
		t.Fatalf("student page after the post = %d\n%s", code, body)
	}
	eventually("the log service is up", func() bool {
		resp, err := client.Post("http://"+logAddr+"/v1/logs", "application/json",
			strings.NewReader(`[{"service":"grading","level":"warn","msg":"a line for the status page","request_id":"e2e-1"}]`))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	eventually("/status shows every service passing and the recent log lines", func() bool {
		_, body := get("/status")
		return strings.Contains(body, "<strong>grading</strong>") && strings.Contains(body, "<strong>portal</strong>") &&
			strings.Contains(body, "<strong>log</strong>") && !strings.Contains(body, "critical") &&
			strings.Contains(body, "a line for the status page") && strings.Contains(body, "request_id=e2e-1")
	})

	stopGrading()
	stopGrading = func() {}
	eventually("the pages answer the 503 page", func() bool {
		code, body := get("/students/3")
		return code == 503 && strings.Contains(body, "The grading service is unavailable")
	})
	if code, body := get("/api/v1/students/3"); code != 503 || !strings.Contains(body, `"error"`) {
		t.Fatalf("gateway with grading down = %d %s", code, body)
	}

	stopGrading = startGrading()
	eventually("the portal recovers when grading is back", func() bool {
		code, body := get("/students/3")
		return code == 200 && strings.Contains(body, "<td>Final</td>")
	})
	if code, _ := get("/api/v1/students/3"); code != 200 {
		t.Fatalf("gateway after recovery = %d", code)
	}
}
