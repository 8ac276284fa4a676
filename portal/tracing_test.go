package portal

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"

	"github.com/gradebook/gradebook/grading/pgtest"
	gradingserver "github.com/gradebook/gradebook/grading/server"
	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/logging"
	"github.com/gradebook/gradebook/pkg/service"
	"github.com/gradebook/gradebook/registry"
)

// tracingEnv points a service's exporter at col, with a short batch delay so that spans arrive
// while the test waits.
func tracingEnv(col *testkit.Collector, extra ...string) func(string) string {
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": col.URL, "OTEL_BSP_SCHEDULE_DELAY": "20"}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return func(k string) string { return env[k] }
}

// serveTracedPortal serves a portal built by newRuntime over gradingAddrs until the test ends.
func serveTracedPortal(t testing.TB, args []string, getenv func(string) string, gradingAddrs ...string) (*service.Runtime, *testkit.Buffer) {
	t.Helper()
	reg := fakeRegistryServer(t)
	stderr := &testkit.Buffer{}
	// With no grading addresses given, the portal finds grading through -registry (in args).
	var instancer sd.Instancer
	if len(gradingAddrs) > 0 {
		instancer = sd.FixedInstancer(gradingAddrs)
	}
	rt, err := newRuntime(append([]string{"-listen", "127.0.0.1:0", "-registry", reg.URL}, args...), getenv, stderr, instancer)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("portal: %v", err)
		}
	})
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	testkit.Eventually(t, 10*time.Second, "the portal's /health", func() bool {
		resp, err := client.Get("http://" + rt.Addr() + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return rt, stderr
}

// A page request that carries a traceparent continues that trace through the portal, its call to
// grading (over either transport), grading's endpoint and its store, every span the child of the
// one before; the log lines of the request, in both services, carry the trace's ID.
func TestTraceFollowsARequestAcrossServices(t *testing.T) {
	for _, c := range []struct{ transport, store string }{{"http", "bolt"}, {"grpc", "bolt"}, {"http", "postgres"}} {
		transport := c.transport
		t.Run(transport+" "+c.store, func(t *testing.T) {
			args := []string{"-data", t.TempDir()}
			system, storeSpan := "bbolt", 4
			if c.store == "postgres" {
				args = []string{"-store", pgtest.URL(t)}
				system = "postgresql"
			}
			col := testkit.StartCollector(t)
			reg := fakeRegistryServer(t)
			grpcAddr := deadAddr(t)
			gradingAddr, gradingStderr, stop := testkit.StartRun(t, gradingserver.Run,
				append([]string{"-listen", "127.0.0.1:0", "-grpc-listen", grpcAddr, "-registry", reg.URL, "-log-level", "debug"}, args...),
				tracingEnv(col))
			t.Cleanup(stop)
			target := gradingAddr
			if transport == "grpc" {
				target = grpcAddr
			}
			rt, portalStderr := serveTracedPortal(t, []string{"-grading-transport", transport}, tracingEnv(col), target)

			const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
			req, _ := http.NewRequest(http.MethodGet, "http://"+rt.Addr()+"/api/v1/students/1", nil)
			req.Header.Set("traceparent", "00-"+traceID+"-"+callerSpan+"-01")
			req.Header.Set("X-Request-ID", "trace-test-"+transport)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /api/v1/students/1: %d", resp.StatusCode)
			}

			find := func(spans []testkit.Span, service, kind, namePrefix string) (testkit.Span, bool) {
				for _, s := range spans {
					if s.Service == service && s.Kind == kind && strings.HasPrefix(s.Name, namePrefix) {
						return s, true
					}
				}
				return testkit.Span{}, false
			}
			type hop struct{ service, kind, name string }
			hops := []hop{
				{"portal", "server", "GET /api/v1/students/{id}"},
				{"portal", "client", ""},
				{"grading", "server", ""},
				{"grading", "internal", "grading.GetStudent"},
				{"grading", "internal", "store.GetStudent"},
			}
			if c.store == "postgres" {
				hops = append(hops, hop{"grading", "client", "postgresql SELECT"})
			}
			var chain []testkit.Span
			testkit.Until(t, 10*time.Second, func() string {
				spans := col.Trace(traceID)
				chain = chain[:0]
				for _, h := range hops {
					s, ok := find(spans, h.service, h.kind, h.name)
					if !ok {
						return "no " + h.kind + " span " + h.name + " from " + h.service + " in the trace"
					}
					chain = append(chain, s)
				}
				return ""
			})
			parent := callerSpan
			for i, s := range chain {
				if s.Parent != parent {
					t.Errorf("span %d (%s %s %q): parent %s, want %s", i, s.Service, s.Kind, s.Name, s.Parent, parent)
				}
				parent = s.SpanID
			}
			for _, i := range []int{0, 2} {
				if got := chain[i].Attrs["request.id"]; got != "trace-test-"+transport {
					t.Errorf("the %s server span carries request.id %q, want the request's X-Request-ID", chain[i].Service, got)
				}
			}
			if got := chain[storeSpan].Attrs["db.system"]; got != system {
				t.Errorf("the store span's db.system is %q, want %s", got, system)
			}
			for name, stderr := range map[string]*testkit.Buffer{"portal": portalStderr, "grading": gradingStderr} {
				testkit.Eventually(t, 5*time.Second, name+"'s log lines of the request carrying its trace_id", func() bool {
					return strings.Contains(stderr.String(), "trace_id="+traceID)
				})
			}
			// Nothing but the request was traced: health checks, the registry's queries and log
			// shipping make no spans.
			for _, s := range col.Spans() {
				if s.TraceID != traceID {
					t.Errorf("a span outside the request's trace: %+v", s)
				}
			}
		})
	}
}

// A -tracing-ui that is not an http(s) URL is refused at start-up: its links would lead nowhere.
func TestTracingUIMustBeAURL(t *testing.T) {
	for _, v := range []string{"localhost:16686", "javascript:alert(1)", "ftp://jaeger"} {
		_, err := newRuntime([]string{"-listen", "127.0.0.1:0", "-tracing-ui", v}, func(string) string { return "" }, io.Discard, sd.FixedInstancer{})
		if err == nil || !strings.Contains(err.Error(), "-tracing-ui") {
			t.Errorf("-tracing-ui %q: err = %v, want one naming the flag", v, err)
		}
	}
}

// A malformed OTEL_* variable stops the portal at start-up, naming the variable.
func TestMalformedTracingVariableFailsStart(t *testing.T) {
	getenv := func(k string) string {
		if k == "OTEL_TRACES_SAMPLER" {
			return "sometimes"
		}
		return ""
	}
	_, err := newRuntime([]string{"-listen", "127.0.0.1:0"}, getenv, io.Discard, sd.FixedInstancer{})
	if err == nil || !strings.Contains(err.Error(), "OTEL_TRACES_SAMPLER") {
		t.Errorf("err = %v, want one naming OTEL_TRACES_SAMPLER", err)
	}
}

// The whole system traced, through the real hub and log service: a page request's trace, and
// nothing else. Registrations, health checks, the hub's blocking queries and log shipping make no
// spans, in any service; the shipped entries of the request carry its trace_id.
func TestPlumbingIsNotTraced(t *testing.T) {
	if testing.Short() {
		t.Skip("the whole system in one process; skipped with -short")
	}
	col := testkit.StartCollector(t)
	env := tracingEnv(col)
	hub, _, stopHub := testkit.StartRun(t, registry.Run, []string{"-listen", "127.0.0.1:0", "-data", t.TempDir(), "-log-level", "warn"}, env)
	t.Cleanup(stopHub)
	hubURL := "http://" + hub
	logAddr, _, stopLog := testkit.StartRun(t, logging.Run,
		[]string{"-listen", "127.0.0.1:0", "-registry", hubURL, "-data", t.TempDir(), "-check-interval", "200ms"}, env)
	t.Cleanup(stopLog)
	_, _, stopGrading := testkit.StartRun(t, gradingserver.Run,
		[]string{"-listen", "127.0.0.1:0", "-grpc-listen", "127.0.0.1:0", "-registry", hubURL, "-data", t.TempDir(), "-check-interval", "200ms"}, env)
	t.Cleanup(stopGrading)
	rt, _ := serveTracedPortal(t, []string{"-registry", hubURL, "-check-interval", "200ms"}, env)

	const traceID = "0af7651916cd43dd8448eb211c80319c"
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	testkit.Eventually(t, 15*time.Second, "the student page through the hub", func() bool {
		req, _ := http.NewRequest(http.MethodGet, "http://"+rt.Addr()+"/students/1", nil)
		req.Header.Set("traceparent", "00-"+traceID+"-b7ad6b7169203331-01")
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	// By the time both services' lines of the request are at the log service, shipping has run
	// and the hub has answered many blocking queries.
	for _, service := range []string{"portal", "grading"} {
		testkit.Eventually(t, 15*time.Second, service+"'s shipped lines carrying the trace_id", func() bool {
			resp, err := client.Get("http://" + logAddr + "/v1/logs?limit=500&service=" + service)
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return strings.Contains(string(body), `"trace_id":"`+traceID+`"`)
		})
	}
	testkit.Eventually(t, 5*time.Second, "the store's span", func() bool {
		for _, s := range col.Trace(traceID) {
			if s.Name == "store.GetStudent" {
				return true
			}
		}
		return false
	})
	for _, s := range col.Spans() {
		if s.TraceID != traceID || (s.Service != "portal" && s.Service != "grading") {
			t.Errorf("a span that is not the page request's: %s %s %q %v", s.Service, s.Kind, s.Name, s.Attrs)
		}
	}
}
