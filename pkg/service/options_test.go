package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/pkg/config"
	"github.com/gradebook/gradebook/pkg/service"
	"github.com/gradebook/gradebook/registry/registrytest"
)

// fakeLogService takes POST /v1/logs batches and keeps their messages.
type fakeLogService struct {
	mu   sync.Mutex
	msgs map[string]string // msg -> service
}

func (f *fakeLogService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var batch []map[string]any
	if r.Method != http.MethodPost || r.URL.Path != "/v1/logs" || json.NewDecoder(r.Body).Decode(&batch) != nil {
		http.Error(w, "no", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	for _, e := range batch {
		f.msgs[fmt.Sprint(e["msg"])] = fmt.Sprint(e["service"])
	}
	f.mu.Unlock()
	fmt.Fprintf(w, `{"accepted":%d}`, len(batch))
}

func (f *fakeLogService) serviceOf(msg string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.msgs[msg]
	return s, ok
}

// serve runs rt until the returned stop is called, which fails the test unless Serve returns nil.
func serve(t *testing.T, rt *service.Runtime) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- rt.Serve(ctx) }()
	return func() {
		t.Helper()
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve returned %v, want nil", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("Serve did not return within 15s of its context ending")
		}
	}
}

// TestLogShipping: by default a runtime ships what it logs to the log service it finds through
// the registry; with WithoutLogShipping it does not (the log service's own runtime).
func TestLogShipping(t *testing.T) {
	hub := registrytest.Hub(registrytest.StartHub(t))
	logs := &fakeLogService{msgs: map[string]string{}}
	logSrv := httptest.NewServer(logs)
	defer logSrv.Close()
	port, _ := strconv.Atoi(logSrv.URL[strings.LastIndex(logSrv.URL, ":")+1:])
	registrytest.Register(t, hub.Client(t), registrytest.PassingReg("log-fake", "log", port))

	cfg := func(name string) config.Common {
		return config.Common{Listen: "127.0.0.1:0", Registry: hub.URL(), Name: name, LogLevel: "info", CheckInterval: 100 * time.Millisecond}
	}
	var shippingErr, quietErr testkit.Buffer
	shipping, err := service.New(cfg("shipping"), &shippingErr)
	if err != nil {
		t.Fatal(err)
	}
	quiet, err := service.New(cfg("quiet"), &quietErr, service.WithoutLogShipping())
	if err != nil {
		t.Fatal(err)
	}
	stopShipping, stopQuiet := serve(t, shipping), serve(t, quiet)

	shipping.Logger.Log("level", "info", "msg", "shipped while serving")
	quiet.Logger.Log("level", "info", "msg", "kept to stderr")
	testkit.Eventually(t, 10*time.Second, "the entry at the log service", func() bool {
		from, ok := logs.serviceOf("shipped while serving")
		return ok && from == "shipping"
	})
	// What is logged during shutdown still arrives: the runtime flushes the shipper last.
	shipping.OnClose(func(context.Context) error {
		shipping.Logger.Log("level", "info", "msg", "logged while stopping")
		return nil
	})
	stopShipping()
	if _, ok := logs.serviceOf("logged while stopping"); !ok {
		t.Error("an entry logged while stopping was not flushed to the log service")
	}
	stopQuiet() // a shipper, had there been one, would have flushed by now
	if _, ok := logs.serviceOf("kept to stderr"); ok {
		t.Error("a runtime built WithoutLogShipping shipped its logs")
	}
	if !strings.Contains(quietErr.String(), `msg="kept to stderr"`) {
		t.Errorf("the entry is not on stderr:\n%s", quietErr.String())
	}
}

// TestSelfRegistry: WithSelfRegistry points the registry client at the runtime's own listener,
// whatever -registry says (the hub is its own registry).
func TestSelfRegistry(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := "http://" + ln.Addr().String() // a registry that must not be asked
	ln.Close()
	cfg := config.Common{Listen: "127.0.0.1:0", Registry: elsewhere, Name: "hub", LogLevel: "info", CheckInterval: 100 * time.Millisecond}
	rt, err := service.New(cfg, &testkit.Buffer{}, service.WithSelfRegistry(), service.WithoutLogShipping())
	if err != nil {
		t.Fatal(err)
	}
	rt.SetRegistrar(nopRegistrar{})
	rt.Router.HandleFunc("/v1/status/leader", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `"`+rt.Addr()+`"`)
	})
	stop := serve(t, rt)
	defer stop()
	leader, err := rt.Consul.Status().Leader()
	if err != nil || leader != rt.Addr() {
		t.Errorf("the registry client asked someone else: leader %q, %v; want %q", leader, err, rt.Addr())
	}
}

type nopRegistrar struct{}

func (nopRegistrar) Register()   {}
func (nopRegistrar) Deregister() {}

// TestReadyGetsTheRequestContext: the check behind /health gets a context that ends soon, so
// that a check stuck on a dependency answers 503 instead of hanging the health checker.
func TestReadyGetsTheRequestContext(t *testing.T) {
	cfg := config.Common{Listen: "127.0.0.1:0", Registry: "http://127.0.0.1:1", Name: "ready", LogLevel: "error", CheckInterval: 100 * time.Millisecond}
	rt, err := service.New(cfg, &testkit.Buffer{}, service.WithoutLogShipping())
	if err != nil {
		t.Fatal(err)
	}
	rt.SetRegistrar(nopRegistrar{})
	rt.SetReady(func(ctx context.Context) error {
		<-ctx.Done() // a dependency that never answers
		return fmt.Errorf("store check: %w", ctx.Err())
	})
	stop := serve(t, rt)
	defer stop()
	begin := time.Now()
	status, _, body := get(t, "http://"+rt.Addr()+"/health")
	if took := time.Since(begin); status != http.StatusServiceUnavailable || !strings.Contains(body, "deadline exceeded") || took > 5*time.Second {
		t.Errorf("/health with a stuck check = %d %s after %v, want 503 within a few seconds", status, body, took)
	}
}
