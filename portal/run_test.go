package portal

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
)

func TestRunFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
		is   error
	}{
		{args: []string{"-h"}, is: flag.ErrHelp},
		{args: []string{"-grading-transport", "carrier-pigeon"}, want: "want http or grpc"},
		{args: []string{"stray"}, want: "unexpected arguments"},
		{args: []string{"-listen", "nonsense"}, want: "-listen"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stderr bytes.Buffer
			err := Run(context.Background(), tc.args, nil, &stderr)
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run(%q) = %v; want %v containing %q", tc.args, err, tc.is, tc.want)
			}
		})
	}
	var stderr bytes.Buffer
	Run(context.Background(), []string{"-h"}, nil, &stderr)
	for _, flagName := range []string{"-grading-transport", "-grading-name", "-listen", "teacher portal"} {
		if !strings.Contains(stderr.String(), flagName) {
			t.Errorf("usage lacks %q:\n%s", flagName, stderr.String())
		}
	}
}

// TestRunServes runs the real portal runtime (the shared middleware, /health, /metrics) over a
// real grading instance, with each -grading-transport, and shuts it down.
func TestRunServes(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) { testRunServes(t, tr) })
	}
}

func testRunServes(t *testing.T, tr transport) {
	g := startGrading(t)
	reg := fakeRegistryServer(t)
	var stderr bytes.Buffer
	rt, err := newRuntime([]string{"-listen", "127.0.0.1:0", "-registry", reg.URL, "-log-level", "warn", "-grading-transport", tr.name},
		func(string) string { return "" }, &syncWriter{w: &stderr}, sd.FixedInstancer{tr.addr(g)})
	if err != nil {
		t.Fatal(err)
	}
	p := servePortal(t, rt)
	base, client, get := p.base, p.client, p.get
	deadline := time.Now().Add(5 * time.Second)
	for {
		if code, body := get("/api/v1/students/1"); code == 200 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("portal never served grading: %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for path, want := range map[string]string{
		"/health":   `"passing"`,
		"/students": "Averill Simen",
		"/metrics":  "gradebook_http_requests_total",
		"/status":   "<strong>grading</strong>",
	} {
		if code, body := get(path); code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s = %d, lacks %q", path, code, want)
		}
	}
	if code, _ := get("/"); code != http.StatusSeeOther {
		t.Errorf("GET / = %d; want 303", code)
	}
	// A form post goes through the same endpoints, to grading and back.
	resp, err := client.PostForm(base+"/students/3/grades", map[string][]string{"title": {"Final " + tr.name}, "type": {"Test"}, "score": {"100"}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("post the grade form: %v %v", resp, err)
	}
	resp.Body.Close()
	if code, body := get("/students/3"); code != 200 || !strings.Contains(body, "<td>Final "+tr.name+"</td>") {
		t.Errorf("student page after the post = %d\n%s", code, body)
	}
	if err := p.stop(t); err != nil {
		t.Fatalf("Serve = %v", err)
	}
}
