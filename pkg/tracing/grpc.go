package tracing

import (
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

// notHealth leaves grpc.health.v1 checks untraced, as Handler leaves /health.
func notHealth(info *stats.RPCTagInfo) bool {
	return !strings.HasPrefix(info.FullMethodName, "/grpc.health.v1.")
}

// GRPCServerOption makes a server span of every gRPC call but health checks, continuing the
// trace the call's metadata names.
func (t *Tracing) GRPCServerOption() grpc.ServerOption {
	return grpc.StatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(t.provider),
		otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelgrpc.WithPropagators(t.propagator),
		otelgrpc.WithFilter(notHealth)))
}

// GRPCDialOption makes a client span of every gRPC call on the connection and sends the trace
// along in the call's metadata.
func (t *Tracing) GRPCDialOption() grpc.DialOption {
	return grpc.WithStatsHandler(otelgrpc.NewClientHandler(
		otelgrpc.WithTracerProvider(t.provider),
		otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelgrpc.WithPropagators(t.propagator),
		otelgrpc.WithFilter(notHealth)))
}
