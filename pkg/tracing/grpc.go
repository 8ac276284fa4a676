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
func notHealth(info *stats.RPCTagInfo) bool { return tracedMethod(info.FullMethodName) }

func tracedMethod(fullMethod string) bool {
	return !strings.HasPrefix(fullMethod, "/grpc.health.v1.")
}

// GRPCServerOptions make a server span of every gRPC call but health checks, continuing the
// trace the call's metadata names. Without tracing they only take a caller's trace from the
// metadata into the context, as Handler does over HTTP, in interceptors: with any stats handler
// at all, grpc-go copies every call's whole metadata and reports each of its events, and
// otelgrpc's would start a no-op span and compute its attributes too. Put them before the
// server's other interceptors, so that those (an access log, say) see the caller's trace.
func (t *Tracing) GRPCServerOptions() []grpc.ServerOption {
	if !t.Enabled() {
		return []grpc.ServerOption{grpc.ChainUnaryInterceptor(t.extractUnary), grpc.ChainStreamInterceptor(t.extractStream)}
	}
	return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(t.provider),
		otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelgrpc.WithPropagators(t.propagator),
		otelgrpc.WithFilter(notHealth)))}
}

// GRPCDialOptions make a client span of every gRPC call on the connection and send the trace
// along in the call's metadata. Without tracing they still send a trace the context carries, as
// Transport does over HTTP, so that a service that traces nothing does not break its callers'
// traces; in interceptors, for the reason GRPCServerOptions gives.
func (t *Tracing) GRPCDialOptions() []grpc.DialOption {
	if !t.Enabled() {
		return []grpc.DialOption{grpc.WithChainUnaryInterceptor(t.injectUnary), grpc.WithChainStreamInterceptor(t.injectStream)}
	}
	return []grpc.DialOption{grpc.WithStatsHandler(otelgrpc.NewClientHandler(
		otelgrpc.WithTracerProvider(t.provider),
		otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelgrpc.WithPropagators(t.propagator),
		otelgrpc.WithFilter(notHealth)))}
}

func (t *Tracing) extractUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if tracedMethod(info.FullMethod) {
		ctx = t.propagator.Extract(ctx, incomingCarrier{ctx})
	}
	return next(ctx, req)
}

func (t *Tracing) extractStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, next grpc.StreamHandler) error {
	if !tracedMethod(info.FullMethod) {
		return next(srv, ss)
	}
	return next(srv, streamWithContext{ss, t.propagator.Extract(ss.Context(), incomingCarrier{ss.Context()})})
}

// streamWithContext is a server stream whose handler sees ctx.
type streamWithContext struct {
	grpc.ServerStream
	ctx context.Context
}

func (s streamWithContext) Context() context.Context { return s.ctx }

func (t *Tracing) injectUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoke(t.outgoing(ctx, method), method, req, reply, cc, opts...)
}

func (t *Tracing) injectStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, stream grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return stream(t.outgoing(ctx, method), desc, cc, method, opts...)
}

// outgoing adds the trace and baggage ctx carries, if any, to the call's outgoing metadata.
func (t *Tracing) outgoing(ctx context.Context, method string) context.Context {
	if !tracedMethod(method) || (!trace.SpanContextFromContext(ctx).IsValid() && baggage.FromContext(ctx).Len() == 0) {
		return ctx
	}
	md := metadata.MD{}
	t.propagator.Inject(ctx, metadataCarrier(md))
	kv := make([]string, 0, 2*len(md))
	for k, vs := range md {
		for _, v := range vs {
			kv = append(kv, k, v)
		}
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

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
