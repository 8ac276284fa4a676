package portal

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"go.uber.org/goleak"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/pkg/httpx"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// gradingInstance is a real grading service (bbolt store in a temp dir, the demo students, the
// real HTTP transport) on a real socket, counting the requests it receives.
type gradingInstance struct {
	srv  *httptest.Server
	hits atomic.Int64
}

func (g *gradingInstance) addr() string { return strings.TrimPrefix(g.srv.URL, "http://") }

func startGrading(t testing.TB) *gradingInstance {
	t.Helper()
	store, err := grading.OpenBoltStore(filepath.Join(t.TempDir(), grading.StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := grading.SeedDemo(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	h := grading.MakeHTTPHandler(grading.MakeServerEndpoints(grading.NewService(store)), log.NewNopLogger())
	g := &gradingInstance{}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.hits.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		g.srv.Close()
		store.Close()
	})
	return g
}

// failingInstance answers every request with 500 (a sick instance, which the grading client
// treats as a transport failure) and counts them.
func failingInstance(t testing.TB) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		httpx.Error(w, http.StatusInternalServerError, "disk on fire")
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// deadAddr is an address where nothing listens (until something binds it).
func deadAddr(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	return addr
}

// testPortal is the portal's full handler over the real load-balanced grading endpoints.
type testPortal struct {
	*httptest.Server
	client *http.Client
}

func newTestPortal(t testing.TB, instancer sd.Instancer, deps ...func(*Deps)) *testPortal {
	t.Helper()
	client := NewHTTPClient()
	b := DefaultBalancing()
	b.Timeout = 5 * time.Second
	eps, subs := NewGradingEndpoints(instancer, client, b, "grading", log.NewNopLogger())
	d := Deps{Grading: eps}
	for _, f := range deps {
		f(&d)
	}
	r := httpx.NewRouter()
	if err := AddRoutes(r, d); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpx.WithRequestIDs(r))
	p := &testPortal{Server: srv, client: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}}
	t.Cleanup(func() {
		srv.Close()
		subs.Close()
		client.CloseIdleConnections()
		p.client.CloseIdleConnections()
	})
	waitEndpoints(t, p, instancer)
	return p
}

// waitEndpoints waits until the Endpointers have taken in the instancer's first event, which
// they do on their own goroutine.
func waitEndpoints(t testing.TB, p *testPortal, instancer sd.Instancer) {
	t.Helper()
	fixed, ok := instancer.(sd.FixedInstancer)
	if !ok || len(fixed) == 0 {
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := p.client.Get(p.URL + "/api/v1/students/1")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the portal never found its grading instances")
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (p *testPortal) do(t testing.TB, method, path, contentType, body string, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, p.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (p *testPortal) get(t testing.TB, path string) answer {
	return p.do(t, http.MethodGet, path, "", "")
}

// syncWriter lets several goroutines log into one buffer.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
