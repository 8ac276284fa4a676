package portal

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingclient"
)

// BenchmarkGetStudentTransports compares grading's GetStudent over HTTP+JSON and over gRPC, in
// one run against one grading instance (real sockets, bbolt store, both transports serving the
// same endpoints), called directly through each transport's client and through the portal's
// gateway (GET /api/v1/students/1) with -grading-transport http and grpc:
//
//	go test -run '^$' -bench BenchmarkGetStudentTransports -benchtime 3s ./portal/
//
// Each sub-benchmark runs GOMAXPROCS×4 callers in parallel and reports calls/s, p50 and p99
// latency, and allocations per call. Grading and the portal run in this process, so allocs/op
// counts both sides of the wire: client, server and, for the gateway, the portal too.
func BenchmarkGetStudentTransports(b *testing.B) {
	g := startGrading(b)
	httpClient := gradingclient.NewHTTPClient()
	b.Cleanup(httpClient.CloseIdleConnections)
	httpDirect, err := gradingclient.MakeHTTPClientEndpoints(g.addr(), httpClient)
	if err != nil {
		b.Fatal(err)
	}
	conn, err := gradingclient.DialGRPC(g.grpcAddr, "")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	grpcDirect := gradingclient.MakeGRPCClientEndpoints(conn)

	gatewayCall := func(tr transport) func(context.Context) error {
		p := newTestPortalOver(b, tr, sd.FixedInstancer{tr.addr(g)})
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}
		b.Cleanup(client.CloseIdleConnections)
		url := p.URL + "/api/v1/students/1"
		return func(ctx context.Context) error {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return err
		}
	}
	direct := func(svc grading.Service) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := svc.GetStudent(ctx, 1)
			return err
		}
	}
	for _, tc := range []struct {
		name string
		call func(context.Context) error
	}{
		{"direct/http", direct(httpDirect)},
		{"direct/grpc", direct(grpcDirect)},
		{"gateway/http", gatewayCall(transports[0])},
		{"gateway/grpc", gatewayCall(transports[1])},
	} {
		b.Run(tc.name, func(b *testing.B) { benchCalls(b, tc.call) })
	}
}

// benchCalls runs call in parallel b.N times, and reports throughput and latency percentiles.
func benchCalls(b *testing.B, call func(context.Context) error) {
	ctx := context.Background()
	for range 100 { // warm connections and pools
		if err := call(ctx); err != nil {
			b.Fatal(err)
		}
	}
	var mu sync.Mutex
	var all []time.Duration
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		lat := make([]time.Duration, 0, 1024)
		for pb.Next() {
			begin := time.Now()
			if err := call(ctx); err != nil {
				b.Error(err)
				return
			}
			lat = append(lat, time.Since(begin))
		}
		mu.Lock()
		all = append(all, lat...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(float64(len(all))*p))] }
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
	b.ReportMetric(float64(pct(0.50).Microseconds()), "p50_µs")
	b.ReportMetric(float64(pct(0.99).Microseconds()), "p99_µs")
}
