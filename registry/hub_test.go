package registry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
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
	h, err := New(cfg, testWriter{t})
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
	eventually(t, 5*time.Second, "hub healthy", func() bool {
		resp, err := http.Get(base + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// eventually polls cond every 10 ms until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
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

// lockedBuffer is a log sink that a test can read while the hub writes to it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
