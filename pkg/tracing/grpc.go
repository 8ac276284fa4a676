package tracing

import (
	"context"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/baggage"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
)

// notHealth leaves grpc.health.v1 checks untraced, as Handler leaves /health.
func notHealth(info *stats.RPCTagInfo) bool {
	return !strings.HasPrefix(info.FullMethodName, "/grpc.health.v1.")
}

// GRPCServerOption makes a server span of every gRPC call but health checks, continuing the
// trace the call's metadata names. Without tracing it only takes a caller's trace from the
// metadata into the context, as Handler does over HTTP: otelgrpc's handler would copy every
// call's metadata and compute its attributes even with the no-op provider.
func (t *Tracing) GRPCServerOption() grpc.ServerOption {
	if !t.Enabled() {
		return grpc.StatsHandler(propagateOnly{t: t, server: true})
	}
	return grpc.StatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(t.provider),
		otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelgrpc.WithPropagators(t.propagator),
		otelgrpc.WithFilter(notHealth)))
}

// GRPCDialOption makes a client span of every gRPC call on the connection and sends the trace
// along in the call's metadata. Without tracing it still sends a trace the context carries, as
// Transport does over HTTP, so that a service that traces nothing does not break its callers'
// traces.
func (t *Tracing) GRPCDialOption() grpc.DialOption {
	if !t.Enabled() {
		return grpc.WithStatsHandler(propagateOnly{t: t})
	}
	return grpc.WithStatsHandler(otelgrpc.NewClientHandler(
		otelgrpc.WithTracerProvider(t.provider),
		otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelgrpc.WithPropagators(t.propagator),
		otelgrpc.WithFilter(notHealth)))
}

// propagateOnly is the stats handler of a service that traces nothing: on a server it extracts
// the caller's trace context from the incoming metadata, on a client it injects the context's
// into the outgoing metadata, and it records nothing.
type propagateOnly struct {
	t      *Tracing
	server bool
}

func (p propagateOnly) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if !notHealth(info) {
		return ctx
	}
	if p.server {
		return p.t.propagator.Extract(ctx, incomingCarrier{ctx})
	}
	if !trace.SpanContextFromContext(ctx).IsValid() && baggage.FromContext(ctx).Len() == 0 {
		return ctx
	}
	md := metadata.MD{}
	p.t.propagator.Inject(ctx, metadataCarrier(md))
	kv := make([]string, 0, 2*len(md))
	for k, vs := range md {
		for _, v := range vs {
			kv = append(kv, k, v)
		}
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

func (propagateOnly) HandleRPC(context.Context, stats.RPCStats) {}

func (propagateOnly) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

func (propagateOnly) HandleConn(context.Context, stats.ConnStats) {}

// incomingCarrier reads a call's incoming metadata key by key, without the copy of all of it
// that metadata.FromIncomingContext makes.
type incomingCarrier struct{ ctx context.Context }

func (c incomingCarrier) Get(key string) string {
	if v := metadata.ValueFromIncomingContext(c.ctx, key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (incomingCarrier) Set(string, string) {}

func (c incomingCarrier) Keys() []string {
	md, _ := metadata.FromIncomingContext(c.ctx)
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	return keys
}

// metadataCarrier is gRPC metadata as a propagation.TextMapCarrier.
type metadataCarrier metadata.MD

func (c metadataCarrier) Get(key string) string {
	if v := metadata.MD(c).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c metadataCarrier) Set(key, value string) { metadata.MD(c).Set(key, value) }

func (c metadataCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
