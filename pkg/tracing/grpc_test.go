package tracing_test

import (
	"context"
	"io"
	"net"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/gradebook/gradebook/pkg/tracing"
)

// seen is what a call's context carried on the server.
type seen struct {
	sc  trace.SpanContext
	bag baggage.Baggage
}

func seenIn(ctx context.Context) seen {
	return seen{trace.SpanContextFromContext(ctx), baggage.FromContext(ctx)}
}

// Without tracing, a gRPC client still sends the trace its context carries, and a gRPC server
// still takes the caller's trace into the context, so that the logs and the calls the call leads
// to carry it on, as over HTTP; for unary calls and streams alike. Both ends here trace nothing.
func TestGRPCPassesTheTraceOnWithoutTracing(t *testing.T) {
	tr, err := tracing.New(context.Background(), tracing.Config{Service: "grading", Getenv: env()})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Enabled() {
		t.Fatal("tracing is on")
	}
	got := make(chan seen, 1)
	// A unary method of a service of its own (grpc.health.v1 is left out of tracing); any other
	// method is served as a stream.
	desc := grpc.ServiceDesc{
		ServiceName: "gradebook.test.Seen",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{MethodName: "Check", Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			in := new(emptypb.Empty)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, _ any) (any, error) {
				got <- seenIn(ctx)
				return new(emptypb.Empty), nil
			}
			if icpt == nil {
				return h(ctx, in)
			}
			return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/gradebook.test.Seen/Check"}, h)
		}}},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(append(tr.GRPCServerOptions(), grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
		got <- seenIn(ss.Context())
		return ss.SendMsg(new(emptypb.Empty))
	}))...)
	srv.RegisterService(&desc, struct{}{})
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
		append(tr.GRPCDialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	calls := map[string]func(context.Context) seen{
		"unary": func(ctx context.Context) seen {
			if err := conn.Invoke(ctx, "/gradebook.test.Seen/Check", new(emptypb.Empty), new(emptypb.Empty)); err != nil {
				t.Fatal(err)
			}
			return <-got
		},
		"stream": func(ctx context.Context) seen {
			cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, "/gradebook.test.Other/Watch")
			if err != nil {
				t.Fatal(err)
			}
			if err := cs.CloseSend(); err != nil {
				t.Fatal(err)
			}
			for err == nil {
				err = cs.RecvMsg(new(emptypb.Empty))
			}
			if err != io.EOF {
				t.Fatal(err)
			}
			return <-got
		},
	}
	caller := propagation.MapCarrier{
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"baggage":     "tenant=school-7",
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			s := call(tr.Propagator().Extract(context.Background(), caller))
			if got := s.sc.TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" || !s.sc.IsRemote() {
				t.Errorf("the server saw trace %s (remote: %v), want the caller's 4bf92f3577b34da6a3ce929d0e0e4736", got, s.sc.IsRemote())
			}
			if got := s.bag.Member("tenant").Value(); got != "school-7" {
				t.Errorf("the server saw baggage tenant=%q, want school-7", got)
			}
			if s := call(context.Background()); s.sc.IsValid() {
				t.Errorf("a call without a trace arrived with trace %s", s.sc.TraceID())
			}
		})
	}
}
