package portal

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"testing"
	"time"

	gradingserver "github.com/gradebook/gradebook/grading/server"
)

// BenchmarkGatewayTracing measures, in one run, the portal gateway (GET /api/v1/students/1 over
// grading's HTTP transport) in three set-ups, each its own grading and portal in this process,
// taking turns in short rounds as BenchmarkGateway's targets do:
//
//	(off)  no collector: the no-op provider
//	(10%)  OTEL_TRACES_SAMPLER=parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG=0.1
//	(100%) every request traced
//
// Spans go over OTLP/HTTP to a collector that reads and discards them, so that what is measured
// is the services' cost, not a collector's. Run it with
//
//	go test -run '^$' -bench 'BenchmarkGatewayTracing$' -benchtime 1x ./portal/
func BenchmarkGatewayTracing(b *testing.B) {
	concurrency := envInt("GRADEBOOK_BENCH_CONCURRENCY", benchConcurrency)
	duration := benchDuration
	if d, err := time.ParseDuration(os.Getenv("GRADEBOOK_BENCH_DURATION")); err == nil && d > 0 {
		duration = d
	}
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	b.Cleanup(collector.Close)
	setups := []struct {
		key string
		env map[string]string
	}{
		{"off", nil},
		{"10%", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL,
			"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}},
		{"100%", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL}},
	}
	urls := map[string]string{}
	for _, s := range setups {
		getenv := func(k string) string { return s.env[k] }
		gradingAddr := startTracedGrading(b, getenv)
		rt, _ := serveTracedPortal(b, []string{"-log-level", "warn"}, getenv, gradingAddr)
		urls[s.key] = "http://" + rt.Addr() + "/api/v1/students/1"
	}
	const rounds = 4
	samples := map[string][]loadResult{}
	for range b.N {
		for _, s := range setups {
			runLoad(b, urls[s.key], concurrency, benchWarmup)
		}
		for range rounds {
			for _, s := range setups {
				samples[s.key] = append(samples[s.key], runLoad(b, urls[s.key], concurrency, duration/rounds))
			}
		}
	}
	b.StopTimer()
	off := merge(samples["off"]).rps
	b.Logf("closed loop: %d keep-alive clients, %v per set-up, GOMAXPROCS=%d", concurrency, duration, runtime.GOMAXPROCS(0))
	for _, s := range setups {
		r := merge(samples[s.key])
		b.Logf("(%-4s) %8.0f req/s  p50 %-9v p99 %-9v cost %5.1f%%  CPU/req %-8v errors %d",
			s.key, r.rps, r.p50, r.p99, 100*(1-r.rps/off), r.cpuPerRequest(), r.errors)
		b.ReportMetric(r.rps, s.key+"_req/s")
		b.ReportMetric(float64(r.cpuPerRequest().Nanoseconds())/1e3, s.key+"_cpu_µs/req")
		if r.errors > 0 {
			b.Errorf("(%s) %d requests failed", s.key, r.errors)
		}
	}
}

// startTracedGrading runs gradingserver.Run with getenv's OTEL_* variables, as startGradingProcessLike
// runs it without, and answers its HTTP address once it is healthy.
func startTracedGrading(b *testing.B, getenv func(string) string) string {
	b.Helper()
	reg := fakeRegistryServer(b)
	addr := deadAddr(b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		args := []string{"-listen", addr, "-grpc-listen", "127.0.0.1:0", "-registry", reg.URL, "-data", b.TempDir(), "-log-level", "warn"}
		done <- gradingserver.Run(ctx, args, getenv, io.Discard)
	}()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("grading: %v", err)
		}
	})
	waitHealthy(b, addr, done)
	return addr
}
