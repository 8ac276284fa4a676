package service

import (
	"context"
	"io"
	"time"

	"github.com/go-kit/log/level"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/gradebook/gradebook/logging/logclient"
)

// LogFlushTimeout bounds how long a stopping service waits to ship its last log entries: a log
// service that is gone must not hold up a shutdown.
const LogFlushTimeout = 3 * time.Second

// An Option changes how New builds a Runtime. Two services need one; every other takes the
// defaults.
type Option func(*options)

type options struct {
	noLogShipping bool
	selfRegistry  bool
	getenv        func(string) string
	spanExporter  sdktrace.SpanExporter
}

// WithEnv gives New the environment the service was started with, from which it reads the
// OTEL_* variables that configure tracing (see tracing.New). Without it nothing is traced.
func WithEnv(getenv func(string) string) Option { return func(o *options) { o.getenv = getenv } }

// WithSpanExporter sends the service's spans to exp, whatever the OTEL_EXPORTER_OTLP_*
// variables say (OTEL_SDK_DISABLED still turns tracing off). It is for tests, with an in-memory
// exporter.
func WithSpanExporter(exp sdktrace.SpanExporter) Option {
	return func(o *options) { o.spanExporter = exp }
}

// WithoutLogShipping keeps New from shipping the service's logs to the log service. It is for
// the log service itself, which must never ship to itself: it writes its own entries straight
// into its store, through AddLogSink.
func WithoutLogShipping() Option { return func(o *options) { o.noLogShipping = true } }

// WithSelfRegistry points the registry client (Consul, and so Instancer and the log shipper) at
// the runtime's own listener instead of cfg.Registry. It is for the registry hub, which is its
// own registry: its shipper finds the log service by asking the hub. It does not change how the
// service registers (see SetRegistrar).
func WithSelfRegistry() Option { return func(o *options) { o.selfRegistry = true } }

// shipLogs adds a logclient.Shipper to the logger's sinks: every entry goes to the log service
// found through the registry, stamped with the service's name and advertised address, and what
// is queued is flushed at shutdown, after every other closer has logged its last. The Shipper's
// own troubles go to stderr alone, so that they never lead back into it.
func (rt *Runtime) shipLogs(stderr io.Writer) {
	troubles := logclient.StderrLogger(stderr, rt.Config.Name)
	sh := logclient.NewShipper(rt.Instancer(logclient.ServiceName), logclient.ShipperOptions{
		Service:  rt.Config.Name,
		Instance: rt.Config.Advertise,
		Metrics:  rt.Metrics,
		Stderr:   troubles,
		Token:    rt.Config.Token,
	})
	// Added first, so run last: OnClose functions run in reverse order of adding.
	rt.AddLogSink(sh, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, LogFlushTimeout)
		defer cancel()
		if err := sh.Close(ctx); err != nil {
			// Reported rather than returned: unshipped entries are on stderr already, and the
			// service still stops cleanly.
			level.Warn(troubles).Log("msg", "log entries not shipped at shutdown", "err", err)
		}
		return nil
	})
}
