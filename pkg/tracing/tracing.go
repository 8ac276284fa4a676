package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/kit/metrics"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/gradebook/gradebook/pkg/telemetry"
)

// Defaults of the batch span processor, the OTEL_BSP_* variables change them.
const (
	// DefaultQueueSize is how many ended spans wait for export before new ones are dropped.
	DefaultQueueSize = 2048
	// DefaultBatchSize is the most spans one export carries.
	DefaultBatchSize = 512
	// DefaultScheduleDelay is how long a span waits at most before its batch is exported.
	DefaultScheduleDelay = 5 * time.Second
	// DefaultExportTimeout bounds one export, retries included.
	DefaultExportTimeout = 10 * time.Second
)

// tracerName is the instrumentation scope of every span gradebook makes itself.
const tracerName = "github.com/gradebook/gradebook"

// Reasons a span is counted in gradebook_tracing_spans_dropped_total.
const (
	// ReasonQueueFull: the span ended while the export queue was full.
	ReasonQueueFull = "queue_full"
	// ReasonExportFailed: the span's batch could not be delivered to the collector.
	ReasonExportFailed = "export_failed"
)

// Config is what New needs besides the OTEL_* variables.
type Config struct {
	// Service is the service's registered name: the default of OTEL_SERVICE_NAME.
	Service string
	// Instance is the service's advertised address, recorded as service.instance.id.
	Instance string
	// Getenv supplies the OTEL_* variables; nil reads none, and so traces nothing.
	Getenv func(string) string
	// Metrics receives the count of dropped spans; nil counts nowhere.
	Metrics *telemetry.Metrics
	// Logger hears when export starts failing and when it recovers; nil logs nothing.
	Logger log.Logger
	// Exporter, when set, receives the spans instead of an OTLP exporter built from the
	// variables, and turns tracing on whatever OTEL_EXPORTER_OTLP_ENDPOINT says (unless
	// OTEL_SDK_DISABLED). It is for tests, with tracetest.InMemoryExporter.
	Exporter sdktrace.SpanExporter
}

// Tracing is one service's tracing: the provider its instrumentation takes spans from and the
// propagator that carries a trace across its calls. The zero value is not usable; build it with
// New. Every method is safe for concurrent use.
type Tracing struct {
	provider   trace.TracerProvider
	tracer     trace.Tracer
	sdk        *sdktrace.TracerProvider
	propagator propagation.TextMapPropagator
}

// New builds the tracing New's variables describe:
//
//   - OTEL_SDK_DISABLED=true: nothing is traced (a no-op provider).
//   - OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT: where spans go. With
//     neither, nothing is traced. The traces endpoint is used as it is; the general one gets
//     /v1/traces appended under http/protobuf.
//   - OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf"
//     (the default) or "grpc".
//   - OTEL_SERVICE_NAME: the service.name of every span; default cfg.Service.
//   - OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG: always_on, always_off, traceidratio,
//     parentbased_always_on (the default), parentbased_always_off, parentbased_traceidratio.
//   - OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTEL_BSP_SCHEDULE_DELAY and
//     OTEL_BSP_EXPORT_TIMEOUT (milliseconds): the export queue.
//
// A malformed variable is an error, so that a typo does not silently turn tracing off. The
// propagator (W3C trace context and baggage) is the same whether or not spans are exported, so
// that a service that traces nothing still passes its callers' traces on.
func New(ctx context.Context, cfg Config) (*Tracing, error) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	t := &Tracing{
		provider:   noop.NewTracerProvider(),
		tracer:     noop.NewTracerProvider().Tracer(tracerName),
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
	if disabled, err := parseBool(getenv, "OTEL_SDK_DISABLED"); err != nil || disabled {
		return t, err
	}
	samplerName := getenv("OTEL_TRACES_SAMPLER")
	sampler, err := parseSampler(samplerName, getenv("OTEL_TRACES_SAMPLER_ARG"))
	if err != nil {
		return nil, err
	}
	bsp, err := parseBSP(getenv)
	if err != nil {
		return nil, err
	}
	exp := cfg.Exporter
	if exp == nil {
		exp, err = newOTLPExporter(ctx, getenv, bsp.exportTimeout)
		if err != nil || exp == nil {
			return t, err
		}
	}
	name := getenv("OTEL_SERVICE_NAME")
	if name == "" {
		name = cfg.Service
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name)}
	if cfg.Instance != "" {
		attrs = append(attrs, attribute.String("service.instance.id", cfg.Instance))
	}
	logger := cfg.Logger
	if logger == nil {
		logger = log.NewNopLogger()
	}
	var dropped metrics.Counter = discard{}
	if cfg.Metrics != nil {
		dropped = cfg.Metrics.Counter("tracing", "spans_dropped_total",
			"Spans that never reached the trace collector, by reason: queue_full (the export queue was full) or export_failed (the collector could not be reached or refused them).", "reason")
	}
	counted := &countingExporter{next: exp, dropped: dropped, logger: logger}
	batch := sdktrace.NewBatchSpanProcessor(counted,
		sdktrace.WithMaxQueueSize(bsp.queueSize),
		sdktrace.WithMaxExportBatchSize(bsp.batchSize),
		sdktrace.WithBatchTimeout(bsp.scheduleDelay),
		sdktrace.WithExportTimeout(bsp.exportTimeout))
	proc := &boundedProcessor{next: batch, limit: int64(bsp.queueSize), dropped: dropped}
	counted.done = proc.exported
	t.sdk = sdktrace.NewTracerProvider(
		sdktrace.WithSampler(sampler),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		sdktrace.WithSpanProcessor(proc))
	t.provider = t.sdk
	t.tracer = t.sdk.Tracer(tracerName)
	if parentBased(samplerName) {
		t.tracer = unsampledChildren{t.tracer}
	}
	return t, nil
}

// parentBased reports whether the sampler OTEL_TRACES_SAMPLER names follows the parent's
// decision (as the default does): then no child of a span that is not sampled is ever sampled.
func parentBased(sampler string) bool {
	return sampler == "" || strings.HasPrefix(sampler, "parentbased_")
}

// unsampledChildren is a tracer under a parent-based sampler that starts no span at all where the
// parent's trace is not sampled: the span would never be recorded, yet starting it costs a fresh
// span ID, a span and a context, several times a request (client, endpoint and store spans, and
// the server span of a callee). The caller gets the parent's own non-recording span back, on
// which every method, End included, does nothing; log lines and calls downstream carry the
// parent's span ID and the same trace ID. Only a request that starts a trace pays for its root
// span, whose ID its log lines carry.
type unsampledChildren struct{ trace.Tracer }

func (u unsampledChildren) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if u.skips(ctx) {
		return ctx, trace.SpanFromContext(ctx)
	}
	return u.Tracer.Start(ctx, name, opts...)
}

// skips reports whether Start would start no span under ctx: its span is valid, not sampled and
// not recording.
func (unsampledChildren) skips(ctx context.Context) bool {
	parent := trace.SpanFromContext(ctx)
	if parent.IsRecording() {
		return false
	}
	sc := parent.SpanContext()
	return sc.IsValid() && !sc.IsSampled()
}

// Enabled reports whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t.sdk != nil }

// TracerProvider is where the service's instrumentation takes its tracers from.
func (t *Tracing) TracerProvider() trace.TracerProvider { return t.provider }

// Tracer is the service's tracer for spans of its own (endpoints, store operations).
func (t *Tracing) Tracer() trace.Tracer { return t.tracer }

// Propagator carries trace context and baggage across HTTP and gRPC calls.
func (t *Tracing) Propagator() propagation.TextMapPropagator { return t.propagator }

// Shutdown exports what is queued and stops the exporter, giving up when ctx ends: a collector
// that is gone must not hold up a service's stop. Spans it could not send are counted as
// dropped. It does nothing when nothing is traced.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: flush at shutdown: %w", err)
	}
	return nil
}

// newOTLPExporter builds the OTLP exporter the variables name, or nil when they name none.
func newOTLPExporter(ctx context.Context, getenv func(string) string, timeout time.Duration) (sdktrace.SpanExporter, error) {
	endpoint, signal := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), true
	if endpoint == "" {
		endpoint, signal = getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), false
	}
	if endpoint == "" {
		return nil, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT %q: want an http:// or https:// URL", endpoint)
	}
	protocol := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	// Retries end well within the export timeout, so that a dead collector costs one batch at a
	// time, not a growing backlog of retries.
	const first, most = 500 * time.Millisecond, 2 * time.Second
	var client otlptrace.Client
	switch protocol {
	case "", "http/protobuf":
		if !signal {
			u = u.JoinPath("v1", "traces")
		}
		client = otlptracehttp.NewClient(otlptracehttp.WithEndpointURL(u.String()), otlptracehttp.WithTimeout(timeout),
			otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: true, InitialInterval: first, MaxInterval: most, MaxElapsedTime: timeout / 2}))
	case "grpc":
		client = otlptracegrpc.NewClient(otlptracegrpc.WithEndpointURL(u.String()), otlptracegrpc.WithTimeout(timeout),
			otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: true, InitialInterval: first, MaxInterval: most, MaxElapsedTime: timeout / 2}))
	default:
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q: want http/protobuf or grpc", protocol)
	}
	// Neither client dials here: a collector that is not up yet is not an error.
	exp, err := otlptrace.New(ctx, client)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter for %s: %w", endpoint, err)
	}
	return exp, nil
}

func parseBool(getenv func(string) string, name string) (bool, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s %q: want true or false", name, v)
	}
	return b, nil
}

func parseSampler(name, arg string) (sdktrace.Sampler, error) {
	ratio := func() (float64, error) {
		if arg == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return 0, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG %q: want a ratio from 0 to 1", arg)
		}
		return r, nil
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio":
		r, err := ratio()
		return sdktrace.TraceIDRatioBased(r), err
	case "parentbased_traceidratio":
		r, err := ratio()
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), err
	}
	return nil, fmt.Errorf("OTEL_TRACES_SAMPLER %q: want always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio", name)
}

type bspConfig struct {
	queueSize, batchSize         int
	scheduleDelay, exportTimeout time.Duration
}

func parseBSP(getenv func(string) string) (bspConfig, error) {
	c := bspConfig{DefaultQueueSize, DefaultBatchSize, DefaultScheduleDelay, DefaultExportTimeout}
	num := func(name string, into *int) error {
		v := getenv(name)
		if v == "" {
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return fmt.Errorf("%s %q: want a whole number above 0", name, v)
		}
		*into = n
		return nil
	}
	ms := func(name string, into *time.Duration) error {
		n := int(*into / time.Millisecond)
		if err := num(name, &n); err != nil {
			return err
		}
		*into = time.Duration(n) * time.Millisecond
		return nil
	}
	err := errors.Join(num("OTEL_BSP_MAX_QUEUE_SIZE", &c.queueSize), num("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", &c.batchSize),
		ms("OTEL_BSP_SCHEDULE_DELAY", &c.scheduleDelay), ms("OTEL_BSP_EXPORT_TIMEOUT", &c.exportTimeout))
	c.batchSize = min(c.batchSize, c.queueSize)
	return c, err
}

// boundedProcessor keeps count of the sampled spans between their end and their export, and
// drops, and counts, those that would overflow the batch processor's queue, which would drop
// them without a word. A span is never waited for: End returns at once.
type boundedProcessor struct {
	next    sdktrace.SpanProcessor
	limit   int64
	pending atomic.Int64
	dropped metrics.Counter
}

func (p *boundedProcessor) OnStart(ctx context.Context, s sdktrace.ReadWriteSpan) {
	p.next.OnStart(ctx, s)
}

func (p *boundedProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	if p.pending.Add(1) > p.limit {
		p.pending.Add(-1)
		p.dropped.With("reason", ReasonQueueFull).Add(1)
		return
	}
	p.next.OnEnd(s)
}

func (p *boundedProcessor) Shutdown(ctx context.Context) error   { return p.next.Shutdown(ctx) }
func (p *boundedProcessor) ForceFlush(ctx context.Context) error { return p.next.ForceFlush(ctx) }

// exported is told how many spans left the queue, delivered or not.
func (p *boundedProcessor) exported(n int) { p.pending.Add(-int64(n)) }

// countingExporter counts the spans of failed exports as dropped and logs when export starts
// failing and when it works again, once each: a dead collector must not flood the log.
type countingExporter struct {
	next    sdktrace.SpanExporter
	dropped metrics.Counter
	logger  log.Logger
	done    func(int)
	mu      sync.Mutex
	failing bool
}

func (e *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.next.ExportSpans(ctx, spans)
	e.done(len(spans))
	if err != nil {
		e.dropped.With("reason", ReasonExportFailed).Add(float64(len(spans)))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case err != nil && !e.failing:
		level.Warn(e.logger).Log("msg", "spans cannot be exported; dropping them until the collector answers", "err", err)
	case err == nil && e.failing:
		level.Info(e.logger).Log("msg", "spans are exported again")
	}
	e.failing = err != nil
	// Handled here, once: the batch processor would hand it to OpenTelemetry's global error
	// handler, which writes every failure to stderr.
	return nil
}

func (e *countingExporter) Shutdown(ctx context.Context) error { return e.next.Shutdown(ctx) }

// discard is a counter that counts nowhere.
type discard struct{}

func (d discard) With(...string) metrics.Counter { return d }
func (discard) Add(float64)                      {}
