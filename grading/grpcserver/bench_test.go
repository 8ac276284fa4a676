package grpcserver_test

import (
	"context"
	"net"
	"testing"

	"github.com/go-kit/log"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingtest"
	"github.com/gradebook/gradebook/grading/grpcserver"
	"github.com/gradebook/gradebook/grading/pb"
	"github.com/gradebook/gradebook/pkg/grpcx"
)

// BenchmarkDecodeCodec compares, in one run, GetStudent over a server with grpcx's raw-bytes
// codec and decoding in the handler (what grading runs, so that undecodable requests answer
// INVALID_ARGUMENT) against the same server with grpc-go's own codec and registration. The
// codec exists for the status code, not for speed; this shows what it costs.
//
//	go test -run '^$' -bench BenchmarkDecodeCodec -benchtime 3s ./grading/grpcserver/
func BenchmarkDecodeCodec(b *testing.B) {
	svc := gradingtest.NewDemoService(b)
	eps := grading.MakeServerEndpoints(svc)
	serve := func(b *testing.B, srv *grpc.Server) pb.GradingClient {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go func() { _ = srv.Serve(ln) }()
		b.Cleanup(srv.Stop)
		conn, err := grpcx.Dial(ln.Addr().String(), "")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close() })
		return pb.NewGradingClient(conn)
	}
	run := func(b *testing.B, c pb.GradingClient) {
		ctx := context.Background()
		b.ReportAllocs()
		b.RunParallel(func(p *testing.PB) {
			for p.Next() {
				if _, err := c.GetStudent(ctx, &pb.GetStudentRequest{Id: 1}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.Run("raw-bytes codec", func(b *testing.B) {
		srv := grpc.NewServer(grpcserver.ServerOptions("", log.NewNopLogger())...)
		grpcserver.Register(srv, eps, log.NewNopLogger())
		run(b, serve(b, srv))
	})
	b.Run("grpc-go codec", func(b *testing.B) {
		// The same options, with grpc-go's own codec in place of grpcx's: the last codec set wins.
		opts := append(grpcserver.ServerOptions("", log.NewNopLogger()), grpc.ForceServerCodecV2(encoding.GetCodecV2(proto.Name)))
		srv := grpc.NewServer(opts...)
		pb.RegisterGradingServer(srv, grpcserver.NewServer(eps, log.NewNopLogger()))
		run(b, serve(b, srv))
	})
}
