package tracing_test

import (
	"context"
	"net"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/gradebook/gradebook/pkg/tracing"
)

// seenServer is a health server that keeps the trace and baggage each Check's context carries.
type seenServer struct {
	*health.Server
	seen chan trace.SpanContext
	bags chan baggage.Baggage
}

func (s seenServer) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	s.seen <- trace.SpanContextFromContext(ctx)
	s.bags <- baggage.FromContext(ctx)
	return s.Server.Check(ctx, req)
}

// Without tracing, a gRPC client still sends the trace its context carries, and a gRPC server
// still takes the caller's trace into the context, so that the logs and the calls the call leads
// to carry it on, as over HTTP. Both ends here trace nothing.
func TestGRPCPassesTheTraceOnWithoutTracing(t *testing.T) {
	tr, err := tracing.New(context.Background(), tracing.Config{Service: "grading", Getenv: env()})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Enabled() {
		t.Fatal("tracing is on")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(tr.GRPCServerOption())
	hs := seenServer{Server: health.NewServer(), seen: make(chan trace.SpanContext, 1), bags: make(chan baggage.Baggage, 1)}
	// A service of its own name: grpc.health.v1 itself is left out of tracing.
	desc := healthpb.Health_ServiceDesc
	desc.ServiceName = "gradebook.test.Seen"
	srv.RegisterService(&desc, hs)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	conn, err := grpc.NewClient("passthrough:///"+ln.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()), tr.GRPCDialOption())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	check := func(ctx context.Context) (trace.SpanContext, baggage.Baggage) {
		t.Helper()
		if err := conn.Invoke(ctx, "/gradebook.test.Seen/Check", &healthpb.HealthCheckRequest{}, &healthpb.HealthCheckResponse{}); err != nil {
			t.Fatal(err)
		}
		return <-hs.seen, <-hs.bags
	}

	caller := propagation.MapCarrier{
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"baggage":     "tenant=school-7",
	}
	ctx := tr.Propagator().Extract(context.Background(), caller)
	sc, bag := check(ctx)
	if got := sc.TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" || !sc.IsRemote() {
		t.Errorf("the server saw trace %s (remote: %v), want the caller's 4bf92f3577b34da6a3ce929d0e0e4736", got, sc.IsRemote())
	}
	if got := bag.Member("tenant").Value(); got != "school-7" {
		t.Errorf("the server saw baggage tenant=%q, want school-7", got)
	}
	if sc, _ := check(context.Background()); sc.IsValid() {
		t.Errorf("a call without a trace arrived with trace %s", sc.TraceID())
	}
}
