package portal

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"testing"

	"github.com/go-kit/kit/sd"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingclient"
	gradingserver "github.com/gradebook/gradebook/grading/server"
	"github.com/gradebook/gradebook/pkg/httpx"
)

// transportBenchCallers is how many callers run at once in the transport benchmarks: as many as
// the portal's load generators use against a grading instance in production-like runs.
const transportBenchCallers = 32

// transportBenchToken is the -token both grading and the portal run with, so that every call
// carries the credentials it carries in production and passes the token checks.
const transportBenchToken = "bench-token-0123456789abcdef"

// BenchmarkDirectGetStudent calls GetStudent on one grading instance, the real service as
// gradingserver.Run assembles it (bbolt store, logging at info, metrics, tracing as configured by
// default, -token set), over HTTP+JSON and over gRPC with grading's own client for each, through
// real loopback sockets, 32 callers at once. Both sub-benchmarks run against the same instance
// in the same binary, so compare them with benchstat in one run:
//
//	go test -run '^$' -bench 'Benchmark(Direct|Gateway)GetStudent' -count 8 ./portal/ | tee out.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /transport out.txt
//
// ns/op is wall time over 32 callers, so calls/s is 1e9 / ns/op; cpu-ns/op is the process's
// CPU time per call.
// Grading and its callers share this process, so allocs/op counts both sides of the wire.
func BenchmarkDirectGetStudent(b *testing.B) {
	httpAddr, grpcAddr := startGradingBothTransports(b)

	b.Run("transport=http", func(b *testing.B) {
		client := gradingclient.NewHTTPClient()
		b.Cleanup(client.CloseIdleConnections)
		// The token on every call, as the portal sends it (and as the gRPC client below does).
		client.Transport = &httpx.BearerTransport{Token: transportBenchToken, Base: client.Transport}
		eps, err := gradingclient.MakeHTTPClientEndpoints(httpAddr, client)
		if err != nil {
			b.Fatal(err)
		}
		benchParallel(b, func(ctx context.Context) error { return getStudent(ctx, eps) })
	})
	b.Run("transport=grpc", func(b *testing.B) {
		conn, err := gradingclient.DialGRPC(grpcAddr, transportBenchToken)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close() })
		eps := gradingclient.MakeGRPCClientEndpoints(conn)
		benchParallel(b, func(ctx context.Context) error { return getStudent(ctx, eps) })
	})
}

// BenchmarkGatewayGetStudent is BenchmarkDirectGetStudent through the portal's /api/v1 gateway:
// the real portal runtime (logging at info, -token, load balancing, circuit breakers, retries)
// with -grading-transport http and grpc, each in front of the same grading instance, driven by
// 32 keep-alive HTTP clients with GET /api/v1/students/1.
func BenchmarkGatewayGetStudent(b *testing.B) {
	httpAddr, grpcAddr := startGradingBothTransports(b)
	for _, tc := range []struct{ transport, addr string }{{"http", httpAddr}, {"grpc", grpcAddr}} {
		b.Run("transport="+tc.transport, func(b *testing.B) {
			p := benchPortal(b, tc.transport, tc.addr)
			u, err := url.Parse("http://" + p + "/api/v1/students/1")
			if err != nil {
				b.Fatal(err)
			}
			client := &http.Client{Transport: &http.Transport{
				MaxIdleConnsPerHost: transportBenchCallers, MaxConnsPerHost: transportBenchCallers, DisableCompression: true,
			}}
			b.Cleanup(client.CloseIdleConnections)
			header := http.Header{"Authorization": {"Bearer " + transportBenchToken}}
			benchParallel(b, func(ctx context.Context) error {
				req := (&http.Request{Method: http.MethodGet, URL: u, Header: header, Host: u.Host}).WithContext(ctx)
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("GET %s: %s", u, resp.Status)
				}
				return err
			})
		})
	}
}

func getStudent(ctx context.Context, svc grading.Service) error {
	st, err := svc.GetStudent(ctx, 1)
	if err == nil && st.ID != 1 {
		err = fmt.Errorf("GetStudent(1) answered student %d", st.ID)
	}
	return err
}

// benchParallel runs call b.N times from transportBenchCallers goroutines, after warming the
// connections, and reports allocations and this process's CPU time per call (cpu-ns/op: grading,
// the portal and the callers together), which other work on a shared machine disturbs far less
// than it does ns/op.
func benchParallel(b *testing.B, call func(context.Context) error) {
	ctx := context.Background()
	for range 2 * transportBenchCallers {
		if err := call(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.SetParallelism((transportBenchCallers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := call(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// startGradingBothTransports runs gradingserver.Run as the grading process does, serving HTTP and
// gRPC, with logging at info and -token, and answers both addresses once it is healthy.
func startGradingBothTransports(b *testing.B) (httpAddr, grpcAddr string) {
	b.Helper()
	reg := fakeRegistryServer(b)
	httpAddr, grpcAddr = deadAddr(b), deadAddr(b) // free now; grading binds them
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		args := []string{"-listen", httpAddr, "-grpc-listen", grpcAddr, "-registry", reg.URL, "-data", b.TempDir(),
			"-log-level", "info", "-token", transportBenchToken}
		done <- gradingserver.Run(ctx, args, func(string) string { return "" }, io.Discard)
	}()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("grading: %v", err)
		}
	})
	waitHealthy(b, httpAddr, done)
	return httpAddr, grpcAddr
}

// benchPortal runs the real portal runtime over the grading instance at addr, reached with
// -grading-transport transport, and answers the portal's address.
func benchPortal(b *testing.B, transport, addr string) string {
	b.Helper()
	reg := fakeRegistryServer(b)
	rt, err := newRuntime([]string{"-listen", "127.0.0.1:0", "-registry", reg.URL, "-log-level", "info",
		"-token", transportBenchToken, "-grading-transport", transport},
		func(string) string { return "" }, io.Discard, sd.FixedInstancer{addr})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Serve(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("portal: %v", err)
		}
	})
	waitHealthy(b, rt.Addr(), done)
	return rt.Addr()
}
