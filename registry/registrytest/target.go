package registrytest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// Target is a check target: an HTTP server whose /health answers with a status the test
// switches (200, 429, 500, ...), and which can be killed outright with Close.
type Target struct {
	srv    *httptest.Server
	status atomic.Int32
	hits   atomic.Int64
	once   sync.Once

	mu       sync.Mutex
	answered map[int]int64 // answers given, by status code
}

// NewTarget starts a target answering 200 on /health; it is closed at t's cleanup.
func NewTarget(t testing.TB) *Target {
	t.Helper()
	tg := &Target{}
	tg.status.Store(http.StatusOK)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		tg.hits.Add(1)
		code := int(tg.status.Load())
		tg.mu.Lock()
		if tg.answered == nil {
			tg.answered = map[int]int64{}
		}
		tg.answered[code]++
		tg.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"status":"` + http.StatusText(code) + `"}`))
	})
	tg.srv = httptest.NewServer(mux)
	t.Cleanup(tg.Close)
	return tg
}

// SetStatus makes /health answer code from now on.
func (tg *Target) SetStatus(code int) { tg.status.Store(int32(code)) }

// Hits is how many times /health has been asked.
func (tg *Target) Hits() int64 { return tg.hits.Load() }

// Answered is how many times /health has answered code.
func (tg *Target) Answered(code int) int64 {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.answered[code]
}

// Close kills the target: the listener closes and open connections are cut, so a check sees a
// refused connection, as it would for a process that died. It is safe to call more than once.
func (tg *Target) Close() {
	tg.once.Do(func() {
		tg.srv.CloseClientConnections()
		tg.srv.Close()
	})
}

// HealthURL is the URL a registry's HTTP check should dial.
func (tg *Target) HealthURL() string { return tg.srv.URL + "/health" }

// Host and Port are the target's address, for a registration's Address and Port.
func (tg *Target) Host() string { h, _ := tg.split(); return h }

// Port is the target's TCP port.
func (tg *Target) Port() int { _, p := tg.split(); return p }

func (tg *Target) split() (string, int) {
	host, port, _ := net.SplitHostPort(tg.srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	return host, p
}
