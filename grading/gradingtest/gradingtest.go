// Package gradingtest holds the helpers that tests of grading and of its callers share: a real
// store in a temp dir, and the grading service served over each of its transports on 127.0.0.1
// with a client for each. Only tests import it.
package gradingtest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/go-kit/log"
	"google.golang.org/grpc"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/boltstore"
	"github.com/gradebook/gradebook/grading/gradingclient"
	"github.com/gradebook/gradebook/grading/grpcserver"
	"github.com/gradebook/gradebook/grading/httpserver"
	"github.com/gradebook/gradebook/openapi"
	"github.com/gradebook/gradebook/openapi/openapitest"
)

// NewStore opens a bbolt store in a fresh temp dir and closes it when the test ends.
func NewStore(t testing.TB) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "grading.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// NewService is the grading service over a fresh store.
func NewService(t testing.TB) grading.Service { return grading.NewService(NewStore(t)) }

// ServeHTTP serves svc with grading's HTTP handlers until the test ends, and answers the server.
func ServeHTTP(t testing.TB, svc grading.Service) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(httpserver.NewHandler(grading.MakeServerEndpoints(svc), log.NewNopLogger()))
	t.Cleanup(srv.Close)
	return srv
}

// HTTPClient serves svc over HTTP and returns the HTTP client endpoints for it. Every exchange
// is checked against grading's OpenAPI document (openapi/grading.json): a request or an answer
// the document does not describe fails the test.
func HTTPClient(t testing.TB, svc grading.Service) grading.Endpoints {
	t.Helper()
	srv := ServeHTTP(t, svc)
	client := &http.Client{Transport: openapitest.NewTransport(t, openapi.Grading(), srv.URL, nil)}
	t.Cleanup(client.CloseIdleConnections)
	eps, err := gradingclient.MakeHTTPClientEndpoints(srv.Listener.Addr().String(), client)
	if err != nil {
		t.Fatal(err)
	}
	return eps
}

// ServeGRPC serves svc over gRPC on a 127.0.0.1 socket until the test ends, with the options the
// service runs with (token guards writes when set), and answers its address. opts are added to
// the server's.
func ServeGRPC(t testing.TB, svc grading.Service, token string, opts ...grpc.ServerOption) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(append(grpcserver.ServerOptions(token, log.NewNopLogger()), opts...)...)
	grpcserver.Register(srv, grading.MakeServerEndpoints(svc), log.NewNopLogger())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return ln.Addr().String()
}

// GRPCClient serves svc over gRPC and returns the gRPC client endpoints for it. The client sends
// no token: tests that need one dial their own.
func GRPCClient(t testing.TB, svc grading.Service, token string) grading.Endpoints {
	t.Helper()
	conn, err := gradingclient.DialGRPC(ServeGRPC(t, svc, token), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return gradingclient.MakeGRPCClientEndpoints(conn)
}

// NewDemoService is the grading service over a fresh store holding the five demo students.
func NewDemoService(t testing.TB) grading.Service {
	t.Helper()
	store := NewStore(t)
	if _, err := grading.SeedDemo(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	return grading.NewService(store)
}
