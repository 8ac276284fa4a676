package portal

import (
	"context"
	"io"
	"net"
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
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/boltstore"
	"github.com/gradebook/gradebook/grading/gradingclient"
	"github.com/gradebook/gradebook/grading/grpcserver"
	"github.com/gradebook/gradebook/grading/httpserver"
	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/pkg/requestid"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, testkit.LeakOptions()...)
}

// gradingInstance is a real grading service (bbolt store in a temp dir, the demo students, the
// real HTTP and gRPC transports) on real sockets, counting the requests it receives over both.
type gradingInstance struct {
	srv  *httptest.Server
	grpc *grpc.Server
	// grpcAddr is where the gRPC transport listens.
	grpcAddr string
	hits     atomic.Int64
	// requestIDs gets the request ID of each gRPC call, when there is room.
	requestIDs chan string
}

func (g *gradingInstance) addr() string { return strings.TrimPrefix(g.srv.URL, "http://") }

// transport is one way the portal reaches grading, for tests that run over both.
type transport struct {
	name    string
	addr    func(*gradingInstance) string
	connect func(*http.Client) gradingclient.Connector
	// kill makes an instance refuse connections on this transport.
	kill func(*gradingInstance)
}

var transports = []transport{
	{
		name:    "http",
		addr:    (*gradingInstance).addr,
		connect: gradingclient.HTTPConnector,
		kill:    func(g *gradingInstance) { g.srv.Close() },
	},
	{
		name:    "grpc",
		addr:    func(g *gradingInstance) string { return g.grpcAddr },
		connect: func(*http.Client) gradingclient.Connector { return gradingclient.GRPCConnector("") },
		kill:    func(g *gradingInstance) { g.grpc.Stop() },
	},
}

func startGrading(t testing.TB) *gradingInstance {
	t.Helper()
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "grading.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := grading.SeedDemo(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	eps := grading.MakeServerEndpoints(grading.NewService(store))
	h := httpserver.NewHandler(eps, log.NewNopLogger())
	g := &gradingInstance{requestIDs: make(chan string, 1)}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.hits.Add(1)
		h.ServeHTTP(w, r)
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.grpcAddr = ln.Addr().String()
	count := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		g.hits.Add(1)
		select {
		case g.requestIDs <- requestid.FromContext(ctx):
		default:
		}
		return next(ctx, req)
	}
	g.grpc = grpc.NewServer(append(grpcserver.ServerOptions("", log.NewNopLogger()), grpc.ChainUnaryInterceptor(count))...)
	grpcserver.Register(g.grpc, eps, log.NewNopLogger())
	served := make(chan struct{})
	go func() {
		defer close(served)
		g.grpc.Serve(ln)
	}()
	t.Cleanup(func() {
		g.srv.Close()
		g.grpc.Stop()
		<-served
		store.Close()
	})
	return g
}

// failingGRPCInstance answers every gRPC call INTERNAL (a sick instance, which the grading client
// treats as a transport failure) and counts them.
func failingGRPCInstance(t testing.TB) (string, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
		hits.Add(1)
		return status.Error(codes.Internal, "disk on fire")
	}))
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	return ln.Addr().String(), &hits
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
	return newTestPortalOver(t, transports[0], instancer, deps...)
}

// newTestPortalOver is newTestPortal with grading reached over tr.
func newTestPortalOver(t testing.TB, tr transport, instancer sd.Instancer, deps ...func(*Deps)) *testPortal {
	t.Helper()
	client := gradingclient.NewHTTPClient()
	b := gradingclient.DefaultBalancing()
	b.Timeout = 5 * time.Second
	eps, subs := gradingclient.NewBalanced(instancer, tr.connect(client), b, "grading", log.NewNopLogger())
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
		Transport:     apiChecker(t, srv.URL),
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

// servedPortal is a portal runtime serving on a real socket, with a client that does not follow
// redirects (so that 303s can be checked).
type servedPortal struct {
	base   string
	client *http.Client
	cancel context.CancelFunc
	served chan error
}

// servePortal serves rt until stop is called or the test ends.
func servePortal(t *testing.T, rt interface {
	Serve(context.Context) error
	Addr() string
}) *servedPortal {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &servedPortal{
		base:   "http://" + rt.Addr(),
		client: &http.Client{Transport: apiChecker(t, "http://"+rt.Addr()), Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		cancel: cancel,
		served: make(chan error, 1),
	}
	go func() { p.served <- rt.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		p.client.CloseIdleConnections()
	})
	return p
}

// get answers the status and body of GET path, or 0 and the error.
func (p *servedPortal) get(path string) (int, string) {
	resp, err := p.client.Get(p.base + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// stop ends Serve and returns what it returned, failing the test if it takes over 15 s.
func (p *servedPortal) stop(t *testing.T) error {
	t.Helper()
	p.cancel()
	select {
	case err := <-p.served:
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("the portal did not stop within 15s")
		return nil
	}
}
