package registry

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/internal/testkit"
)

// testHub is a hub served in-process on a free port.
type testHub struct {
	*Hub
	Data   string
	t      *testing.T
	cancel context.CancelFunc
	done   chan error
}

// startHub serves a hub on 127.0.0.1:0 with a fresh -data (unless given) until the test ends.
func startHub(t *testing.T, args ...string) *testHub {
	t.Helper()
	return startHubLoggingTo(t, testWriter{t}, args...)
}

// startHubLoggingTo is startHub with the hub's log lines written to w.
func startHubLoggingTo(t *testing.T, w io.Writer, args ...string) *testHub {
	t.Helper()
	data := t.TempDir()
	for i, a := range args {
		if a == "-data" && i+1 < len(args) {
			data = args[i+1]
		}
	}
	all := append([]string{"-listen", "127.0.0.1:0", "-data", data, "-log-level", "warn"}, args...)
	cfg, err := NewConfig(all, nil, io.Discard)
	if err != nil {
		t.Fatalf("NewConfig: %v", err)
	}
	h, err := New(cfg, w)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	th := &testHub{Hub: h, Data: data, t: t, cancel: cancel, done: make(chan error, 1)}
	go func() { th.done <- h.Serve(ctx) }()
	t.Cleanup(th.Stop)
	waitHealthy(t, h.URL())
	return th
}

// Stop stops the hub and waits for Serve to return; it may be called more than once.
func (th *testHub) Stop() {
	th.cancel()
	if err, ok := <-th.done; ok {
		close(th.done)
		if err != nil {
			th.t.Errorf("Serve: %v", err)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	testkit.Eventually(t, 5*time.Second, "hub healthy", func() bool {
		resp, err := http.Get(base + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// consulClient is the unmodified consul/api client pointed at base.
func consulClient(t *testing.T, base, token string) *api.Client {
	t.Helper()
	cfg := api.DefaultNonPooledConfig()
	cfg.Address = strings.TrimPrefix(base, "http://")
	cfg.Token = token
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cfg.Transport.CloseIdleConnections)
	return c
}

// target is a check target whose answer a test can change.
type target struct {
	*httptest.Server
	status atomic.Int32
	hits   atomic.Int64
}

func newTarget(t *testing.T, status int) *target {
	tg := &target{}
	tg.status.Store(int32(status))
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg.hits.Add(1)
		w.WriteHeader(int(tg.status.Load()))
		io.WriteString(w, "target says hi")
	}))
	t.Cleanup(tg.Close)
	return tg
}

func checkStatus(t *testing.T, c *api.Client, checkID string) string {
	t.Helper()
	checks, err := c.Agent().Checks()
	if err != nil {
		t.Fatalf("agent checks: %v", err)
	}
	if ch, ok := checks[checkID]; ok {
		return ch.Status
	}
	return ""
}

// recorder collects what a fake course-protocol service receives.
type recorder struct {
	mu      sync.Mutex
	patches []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.patches = append(r.patches, s)
	r.mu.Unlock()
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.patches...)
}

// goroutines counts the goroutines whose stack has every one of frames in it, such as
// "registry.(*Checker).run(": how a test sees that something runs, or waits where it should.
func goroutines(frames ...string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		all := true
		for _, f := range frames {
			all = all && bytes.Contains(g, []byte(f))
		}
		if all {
			count++
		}
	}
	return count
}

// parked reports whether a blocking query on name (not "") waits in c: a test that must see a
// query wake, or not wake, makes sure the query is waiting first.
func parked(c *Catalog, name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.watchers[name]
	return w != nil && w.n > 0
}
