package service_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/pkg/config"
	"github.com/gradebook/gradebook/pkg/service"
	"github.com/gradebook/gradebook/registry/registrytest"
)

// keptSpans keeps its spans through Shutdown, which would clear an InMemoryExporter's.
type keptSpans struct{ *tracetest.InMemoryExporter }

func (keptSpans) Shutdown(context.Context) error { return nil }

func tracedRuntime(t *testing.T, stderr io.Writer, opts ...service.Option) *service.Runtime {
	t.Helper()
	hub := registrytest.Hub(registrytest.StartHub(t))
	cfg := config.Common{Listen: "127.0.0.1:0", Registry: hub.URL(), Name: "things", LogLevel: "info", CheckInterval: 100 * time.Millisecond}
	rt, err := service.New(cfg, stderr, append(opts, service.WithoutLogShipping())...)
	if err != nil {
		t.Fatal(err)
	}
	rt.Router.Handle("/things/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt.Logger.Log("level", "info", "msg", "no context here")
	})).Methods(http.MethodGet)
	rt.Router.Handle("/v1/plumbing/{id}", http.NotFoundHandler())
	rt.UntracedRoutes("/v1/plumbing/")
	return rt
}

// A request makes one server span, named after its route, that continues the caller's trace and
// carries its request ID; /health, /metrics and untraced routes make none; the access log line
// carries the trace's IDs.
func TestServerSpans(t *testing.T) {
	exp := keptSpans{tracetest.NewInMemoryExporter()}
	var stderr testkit.Buffer
	rt := tracedRuntime(t, &stderr, service.WithSpanExporter(exp))
	if !rt.Tracing.Enabled() {
		t.Fatal("tracing is off with an exporter given")
	}
	stop := serve(t, rt)
	const traceID, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	for _, path := range []string{"/things/7", "/health", "/metrics", "/v1/plumbing/x"} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+rt.Addr()+path, nil)
		req.Header.Set("traceparent", "00-"+traceID+"-"+callerSpan+"-01")
		req.Header.Set("X-Request-ID", "req-"+path)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	stop() // flushes the spans
	spans := exp.GetSpans()
	if len(spans) != 1 {
		for _, s := range spans {
			t.Logf("span %q", s.Name)
		}
		t.Fatalf("%d spans, want 1: only /things/7 is traced", len(spans))
	}
	s := spans[0]
	if s.Name != "GET /things/{id}" || s.SpanContext.TraceID().String() != traceID || s.Parent.SpanID().String() != callerSpan {
		t.Errorf("span %q in trace %s under %s, want GET /things/{id} in %s under %s", s.Name, s.SpanContext.TraceID(), s.Parent.SpanID(), traceID, callerSpan)
	}
	found := false
	for _, a := range s.Attributes {
		found = found || (a.Key == "request.id" && a.Value.AsString() == "req-/things/7")
	}
	if !found {
		t.Errorf("the span does not carry request.id: %v", s.Attributes)
	}
	var line string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, "path=/things/7") {
			line = l
		}
	}
	if !strings.Contains(line, "trace_id="+traceID) || !strings.Contains(line, "span_id="+s.SpanContext.SpanID().String()) {
		t.Errorf("the access log line does not carry the span's IDs:\n%s", line)
	}
}

// With no collector configured, tracing is off, and a caller's traceparent still reaches the log.
func TestNoCollectorNoSpans(t *testing.T) {
	var stderr testkit.Buffer
	rt := tracedRuntime(t, &stderr, service.WithEnv(func(string) string { return "" }))
	if rt.Tracing.Enabled() {
		t.Fatal("tracing is on with no OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	stop := serve(t, rt)
	defer stop()
	req, _ := http.NewRequest(http.MethodGet, "http://"+rt.Addr()+"/things/1", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	testkit.Eventually(t, 5*time.Second, "the access log line with the caller's trace_id", func() bool {
		return strings.Contains(stderr.String(), "trace_id=4bf92f3577b34da6a3ce929d0e0e4736")
	})
}

// A collector that cannot be reached never slows a request: spans that do not fit the queue are
// dropped and counted, and so are those whose export fails; the service still stops promptly.
func TestDeadCollector(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": deadURL, "OTEL_BSP_MAX_QUEUE_SIZE": "2", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "1",
		"OTEL_BSP_SCHEDULE_DELAY": "10", "OTEL_BSP_EXPORT_TIMEOUT": "400",
	}
	rt := tracedRuntime(t, &testkit.Buffer{}, service.WithEnv(func(k string) string { return env[k] }))
	stop := serve(t, rt)
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	for range 50 {
		begin := time.Now()
		resp, err := client.Get("http://" + rt.Addr() + "/things/1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if took := time.Since(begin); resp.StatusCode != http.StatusOK || took > time.Second {
			t.Fatalf("GET /things/1 = %d in %v with the collector down", resp.StatusCode, took)
		}
	}
	metric := func(reason string) string {
		return `gradebook_tracing_spans_dropped_total{reason="` + reason + `"}`
	}
	// A queue of two overflows only when spans come faster than the failing exports drain it,
	// which sequential requests on a busy machine need not do: each look at /metrics follows a
	// burst of concurrent requests, each of which must still be answered at once.
	get := func() {
		begin := time.Now()
		resp, err := client.Get("http://" + rt.Addr() + "/things/1")
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		if took := time.Since(begin); resp.StatusCode != http.StatusOK || took > time.Second {
			t.Errorf("GET /things/1 = %d in %v with the collector down", resp.StatusCode, took)
		}
	}
	testkit.Until(t, 10*time.Second, func() string {
		var burst sync.WaitGroup
		for range 16 {
			burst.Go(get)
		}
		burst.Wait()
		resp, err := client.Get("http://" + rt.Addr() + "/metrics")
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, m := range []string{metric("queue_full"), metric("export_failed")} {
			if !strings.Contains(string(body), m+" ") {
				return "/metrics lacks " + m
			}
		}
		return ""
	})
	begin := time.Now()
	stop()
	if took := time.Since(begin); took > service.TraceFlushTimeout+5*time.Second {
		t.Errorf("stopping took %v with the collector down", took)
	}
}
