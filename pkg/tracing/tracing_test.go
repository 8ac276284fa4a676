package tracing_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/pkg/telemetry"
	"github.com/gradebook/gradebook/pkg/tracing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testkit.LeakOptions()...) }

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// With no endpoint, or with the SDK disabled, nothing is recorded; a caller's trace is still
// passed on.
func TestNoEndpointOrDisabledIsANoOp(t *testing.T) {
	for name, getenv := range map[string]func(string) string{
		"no variables": env(),
		"disabled":     env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318", "OTEL_SDK_DISABLED", "true"),
	} {
		t.Run(name, func(t *testing.T) {
			tr, err := tracing.New(context.Background(), tracing.Config{Service: "grading", Getenv: getenv})
			if err != nil {
				t.Fatal(err)
			}
			if tr.Enabled() {
				t.Fatal("tracing is on")
			}
			carrier := propagation.MapCarrier{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
			ctx := tr.Propagator().Extract(context.Background(), carrier)
			_, span := tr.Tracer().Start(ctx, "work")
			if span.IsRecording() {
				t.Error("a span records")
			}
			span.End()
			out := propagation.MapCarrier{}
			tr.Propagator().Inject(ctx, out)
			if !strings.Contains(out["traceparent"], "4bf92f3577b34da6a3ce929d0e0e4736") {
				t.Errorf("the caller's trace is not passed on: %q", out["traceparent"])
			}
			if err := tr.Shutdown(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
}

// A mistyped variable fails the start instead of silently tracing nothing.
func TestMalformedVariables(t *testing.T) {
	for _, kv := range [][]string{
		{"OTEL_SDK_DISABLED", "yes please"},
		{"OTEL_TRACES_SAMPLER", "sometimes"},
		{"OTEL_TRACES_SAMPLER", "traceidratio", "OTEL_TRACES_SAMPLER_ARG", "1.5"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "127.0.0.1:4318"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
		{"OTEL_BSP_MAX_QUEUE_SIZE", "0"},
	} {
		_, err := tracing.New(context.Background(), tracing.Config{Service: "grading", Getenv: env(kv...)})
		if err == nil {
			t.Errorf("%q: no error", kv)
		} else if !strings.Contains(err.Error(), kv[len(kv)-2]) {
			t.Errorf("%q: the error %q does not name the variable", kv, err)
		}
	}
}

// Spans carry the service's name, OTEL_SERVICE_NAME overrides it, and the sampler follows
// OTEL_TRACES_SAMPLER.
func TestServiceNameAndSampler(t *testing.T) {
	cases := []struct {
		name    string
		getenv  func(string) string
		service string
		spans   int
	}{
		{"defaults", env(), "grading", 10},
		{"named", env("OTEL_SERVICE_NAME", "grading-eu"), "grading-eu", 10},
		{"ratio 0", env("OTEL_TRACES_SAMPLER", "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG", "0"), "", 0},
		{"always off", env("OTEL_TRACES_SAMPLER", "always_off"), "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			exp := keptSpans{tracetest.NewInMemoryExporter()}
			tr, err := tracing.New(context.Background(), tracing.Config{Service: "grading", Getenv: c.getenv, Exporter: exp})
			if err != nil {
				t.Fatal(err)
			}
			for range 10 {
				_, span := tr.Tracer().Start(context.Background(), "work")
				span.End()
			}
			if err := tr.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := exp.GetSpans()
			if len(got) != c.spans {
				t.Fatalf("%d spans exported, want %d", len(got), c.spans)
			}
			for _, s := range got {
				if v, _ := s.Resource.Set().Value("service.name"); v.AsString() != c.service {
					t.Errorf("service.name %q, want %q", v.AsString(), c.service)
				}
			}
		})
	}
}

// keptSpans keeps its spans through Shutdown, which would clear an InMemoryExporter's.
type keptSpans struct{ *tracetest.InMemoryExporter }

func (keptSpans) Shutdown(context.Context) error { return nil }

// blockedExporter holds every export until released, as a collector that hangs would.
type blockedExporter struct {
	release chan struct{}
	failed  bool
}

func (e *blockedExporter) ExportSpans(ctx context.Context, _ []sdktrace.ReadOnlySpan) error {
	select {
	case <-e.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	if e.failed {
		return errors.New("collector refused the batch")
	}
	return nil
}

func (e *blockedExporter) Shutdown(context.Context) error { return nil }

// Spans that end while the queue is full are dropped at once, never waited for, and counted;
// so are the spans of an export that fails.
func TestFullQueueDropsAndCounts(t *testing.T) {
	m := telemetry.New()
	exp := &blockedExporter{release: make(chan struct{}), failed: true}
	tr, err := tracing.New(context.Background(), tracing.Config{
		Service: "portal", Metrics: m, Exporter: exp,
		Getenv: env("OTEL_BSP_MAX_QUEUE_SIZE", "4", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2", "OTEL_BSP_SCHEDULE_DELAY", "1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	for range 100 {
		_, span := tr.Tracer().Start(context.Background(), "work")
		span.End()
	}
	if took := time.Since(begin); took > time.Second {
		t.Errorf("100 spans took %v to end: ending a span waited for export", took)
	}
	const dropped = "gradebook_tracing_spans_dropped_total"
	if n := testkit.MetricValue(t, m.Gatherer(), dropped, "reason", tracing.ReasonQueueFull); n < 96 {
		t.Errorf("%v spans counted as dropped for a full queue, want at least 96 of 100 past a queue of 4", n)
	}
	close(exp.release)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	queued := testkit.MetricValue(t, m.Gatherer(), dropped, "reason", tracing.ReasonQueueFull)
	failed := testkit.MetricValue(t, m.Gatherer(), dropped, "reason", tracing.ReasonExportFailed)
	if queued+failed != 100 {
		t.Errorf("dropped %v for a full queue and %v for failed exports: want all 100 spans accounted for", queued, failed)
	}
}

// Spans reach a collector over either OTLP protocol, named by the standard variables.
func TestOTLPProtocols(t *testing.T) {
	col := testkit.StartCollector(t)
	for _, c := range []struct{ protocol, endpoint string }{{"http/protobuf", col.URL}, {"grpc", col.GRPCURL}} {
		t.Run(c.protocol, func(t *testing.T) {
			tr, err := tracing.New(context.Background(), tracing.Config{Service: "grading-" + c.protocol,
				Getenv: env("OTEL_EXPORTER_OTLP_ENDPOINT", c.endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL", c.protocol)})
			if err != nil {
				t.Fatal(err)
			}
			_, span := tr.Tracer().Start(context.Background(), "work")
			span.End()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tr.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			for _, s := range col.Spans() {
				if s.Service == "grading-"+c.protocol && s.Name == "work" {
					return
				}
			}
			t.Errorf("the collector has no span from grading-%s: %+v", c.protocol, col.Spans())
		})
	}
}
