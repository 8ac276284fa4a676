package registrytest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gradebook/gradebook/registry"
)

// StartHub starts the built-in hub in-process on 127.0.0.1:0 with a fresh -data directory, waits
// until GET /v1/status/leader answers, and returns its address (host:port). args are extra flags,
// such as "-token", "secret". The hub is stopped at t's cleanup, which fails the test if it does
// not stop within a few seconds. Its warnings and errors go to the test log.
func StartHub(t testing.TB, args ...string) string {
	t.Helper()
	flags := append([]string{"-listen", "127.0.0.1:0", "-data", t.TempDir(), "-log-level", "warn"}, args...)
	logw := &testWriter{t: t}
	cfg, err := registry.NewConfig(flags, func(string) string { return "" }, logw)
	if err != nil {
		t.Fatalf("hub config %q: %v", flags, err)
	}
	h, err := registry.New(cfg, logw)
	if err != nil {
		t.Fatalf("start hub: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- h.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("hub stopped with: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("the hub did not stop within 15s of its context ending")
		}
		logw.close()
	})
	if err := WaitLeader(h.Addr(), 10*time.Second, nil); err != nil {
		t.Fatalf("hub: %v", err)
	}
	return h.Addr()
}

// testWriter sends log lines to t.Log until the test's cleanup closes it; lines written later
// (which testing would reject) are dropped.
type testWriter struct {
	t      testing.TB
	mu     sync.Mutex
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}
