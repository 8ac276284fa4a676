package portal

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"

	gradingserver "github.com/gradebook/gradebook/grading/server"
	"github.com/gradebook/gradebook/pkg/service"
)

// Load shape of BenchmarkGateway; GRADEBOOK_BENCH_CONCURRENCY and GRADEBOOK_BENCH_DURATION
// override them.
const (
	benchConcurrency = 16
	benchDuration    = 4 * time.Second
	benchWarmup      = 300 * time.Millisecond
)

// BenchmarkGateway measures, in one run and against the same grading instance, a closed loop of
// keep-alive clients at fixed concurrency for a fixed time each (in alternating rounds):
//
//	(a) grading GET /students/1 direct
//	(b) the portal gateway, GET /api/v1/students/1
//	(r) a plain httputil.ReverseProxy in front of grading, GET /students/1
//	(c) the portal's HTML page, GET /students/1
//
// and reports req/s, p99 and the ratios b/a, r/a, c/a. Run it with
//
//	go test -run '^$' -bench 'BenchmarkGateway$' -benchtime 1x ./portal/
func BenchmarkGateway(b *testing.B) {
	concurrency := envInt("GRADEBOOK_BENCH_CONCURRENCY", benchConcurrency)
	duration := benchDuration
	if d, err := time.ParseDuration(os.Getenv("GRADEBOOK_BENCH_DURATION")); err == nil && d > 0 {
		duration = d
	}
	gradingAddr := startGradingProcessLike(b)
	portalAddr := startPortal(b, gradingAddr)
	proxyAddr := startReverseProxy(b, gradingAddr)

	targets := []struct{ key, name, url string }{
		{"a", "grading direct", "http://" + gradingAddr + "/students/1"},
		{"b", "portal gateway /api/v1", "http://" + portalAddr + "/api/v1/students/1"},
		{"r", "httputil.ReverseProxy", "http://" + proxyAddr + "/students/1"},
		{"c", "portal HTML page", "http://" + portalAddr + "/students/1"},
	}
	// GRADEBOOK_BENCH_TARGETS=b (say) measures only some targets, for profiling one of them.
	if only := os.Getenv("GRADEBOOK_BENCH_TARGETS"); only != "" {
		targets = slices.DeleteFunc(targets, func(tg struct{ key, name, url string }) bool {
			return !strings.Contains(only, tg.key) && tg.key != "a"
		})
	}
	// The targets take turns in short rounds, so that other work on the machine weighs on each of
	// them alike instead of on whichever ran while it peaked.
	const rounds = 4
	samples := map[string][]loadResult{}
	for range b.N {
		for _, tg := range targets {
			runLoad(b, tg.url, concurrency, benchWarmup) // warm connections, caches and breakers
		}
		for range rounds {
			for _, tg := range targets {
				samples[tg.key] = append(samples[tg.key], runLoad(b, tg.url, concurrency, duration/rounds))
			}
		}
	}
	results := map[string]loadResult{}
	for k, rs := range samples {
		results[k] = merge(rs)
	}
	b.StopTimer()
	a := results["a"].rps
	b.Logf("closed loop: %d keep-alive clients, %v per target, GOMAXPROCS=%d", concurrency, duration, runtime.GOMAXPROCS(0))
	for _, tg := range targets {
		r := results[tg.key]
		b.Logf("(%s) %-24s %8.0f req/s  p50 %-9v p99 %-9v ratio to (a) %.3f  CPU/req %-8v errors %d",
			tg.key, tg.name, r.rps, r.p50, r.p99, r.rps/a, r.cpuPerRequest(), r.errors)
		b.ReportMetric(r.rps, tg.key+"_req/s")
		b.ReportMetric(float64(r.p99.Microseconds()), tg.key+"_p99_µs")
		b.ReportMetric(float64(r.cpuPerRequest().Nanoseconds())/1e3, tg.key+"_cpu_µs/req")
		if r.errors > 0 {
			b.Errorf("(%s) %d requests failed", tg.key, r.errors)
		}
	}
	for _, k := range []string{"b", "r", "c"} {
		if _, ok := results[k]; ok {
			b.ReportMetric(results[k].rps/a, k+"/a")
		}
	}
	if len(results) < 4 {
		return
	}
	verdict := "met"
	if results["b"].rps < results["r"].rps {
		verdict = "NOT met"
	}
	b.Logf("target (b) >= (r): %s (b/r = %.3f); target (c)/(a) >= 0.15: c/a = %.3f",
		verdict, results["b"].rps/results["r"].rps, results["c"].rps/a)
	b.Logf("CPU per request, whole process: b/r = %.3f (below 1: the gateway costs less than the proxy)",
		float64(results["b"].cpuPerRequest())/float64(results["r"].cpuPerRequest()))
}

// BenchmarkGatewayAllocs counts allocations per request. Grading runs in this process, so a
// gateway request's figure includes grading's own work; the direct-client case measures that
// baseline (a plain net/http client plus grading), and the difference is the portal's share.
func BenchmarkGatewayAllocs(b *testing.B) {
	gradingAddr := startGradingProcessLike(b)
	rt := portalRuntime(b, gradingAddr)
	h := rt.Handler()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	b.Cleanup(client.CloseIdleConnections)

	b.Run("direct-client", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			resp, err := client.Get("http://" + gradingAddr + "/students/1")
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	for _, path := range []string{"/api/v1/students/1", "/students/1"} {
		b.Run("portal-handler"+path, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				// A browser's Host: the portal answers only to its own names.
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://localhost"+path, nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s = %d %s", path, rec.Code, rec.Body)
				}
			}
		})
	}
}

type loadResult struct {
	rps       float64
	p50, p99  time.Duration
	errors    int
	latencies []time.Duration // sorted
	elapsed   time.Duration
	// cpu is the CPU time this whole process (load generator, grading and the hop under test)
	// spent; per request it is a measure that other work on the machine barely disturbs.
	cpu time.Duration
}

func (r loadResult) cpuPerRequest() time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return (r.cpu / time.Duration(len(r.latencies))).Round(time.Microsecond / 10)
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// merge combines the rounds of one target: total requests over total time, percentiles over
// every request.
func merge(rs []loadResult) loadResult {
	var m loadResult
	for _, r := range rs {
		m.latencies = append(m.latencies, r.latencies...)
		m.elapsed += r.elapsed
		m.errors += r.errors
		m.cpu += r.cpu
	}
	slices.Sort(m.latencies)
	m.rps = float64(len(m.latencies)) / m.elapsed.Seconds()
	m.p50, m.p99 = percentile(m.latencies, 50), percentile(m.latencies, 99)
	return m
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)].Round(time.Microsecond)
}

// runLoad keeps concurrency clients busy on url for d, each sending its next request as soon as
// the last one is answered, over connections that stay open.
func runLoad(b *testing.B, target string, concurrency int, d time.Duration) loadResult {
	b.Helper()
	u, err := url.Parse(target)
	if err != nil {
		b.Fatal(err)
	}
	return runLoadOf(b, concurrency, d, http.StatusOK, func() *http.Request {
		return &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}, Host: u.Host}
	})
}

// runLoadOf is runLoad for any request: next makes each request, and want is the status that
// counts as a success.
func runLoadOf(b *testing.B, concurrency int, d time.Duration, want int, next func() *http.Request) loadResult {
	b.Helper()
	transport := &http.Transport{MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency, DisableCompression: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errors    int
		wg        sync.WaitGroup
	)
	cpu0 := processCPU()
	begin := time.Now()
	deadline := begin.Add(d)
	for range concurrency {
		wg.Go(func() {
			local := make([]time.Duration, 0, 1<<14)
			failed := 0
			for time.Now().Before(deadline) {
				req := next()
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failed++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					failed++
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, local...)
			errors += failed
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(begin)
	cpu := processCPU() - cpu0
	slices.Sort(latencies)
	return loadResult{
		rps: float64(len(latencies)) / elapsed.Seconds(), errors: errors, latencies: latencies, elapsed: elapsed, cpu: cpu,
		p50: percentile(latencies, 50), p99: percentile(latencies, 99),
	}
}

// startGradingProcessLike runs gradingserver.Run, the real service with its middleware and bbolt
// store (or the store that extra flags choose), on a free port, registering with a stand-in
// registry, and waits until it is healthy.
func startGradingProcessLike(b *testing.B, extra ...string) string {
	b.Helper()
	reg := fakeRegistryServer(b)
	addr := deadAddr(b) // free now; grading binds it
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		args := []string{"-listen", addr, "-grpc-listen", "127.0.0.1:0", "-registry", reg.URL, "-data", b.TempDir(), "-log-level", "warn"}
		done <- gradingserver.Run(ctx, append(args, extra...), func(string) string { return "" }, io.Discard)
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

func portalRuntime(b *testing.B, gradingAddrs ...string) *service.Runtime {
	b.Helper()
	reg := fakeRegistryServer(b)
	rt, err := newRuntime([]string{"-listen", "127.0.0.1:0", "-registry", reg.URL, "-log-level", "warn"},
		func(string) string { return "" }, io.Discard, sd.FixedInstancer(gradingAddrs))
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
	return rt
}

func startPortal(b *testing.B, gradingAddrs ...string) string {
	return portalRuntime(b, gradingAddrs...).Addr()
}

// startReverseProxy is the two-hop baseline: the standard library's reverse proxy with a
// transport that keeps enough idle connections for the load.
func startReverseProxy(b *testing.B, gradingAddr string) string {
	b.Helper()
	target, _ := url.Parse("http://" + gradingAddr)
	proxy := httputil.NewSingleHostReverseProxy(target)
	transport := &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 1024, IdleConnTimeout: 90 * time.Second}
	proxy.Transport = transport
	srv := httptest.NewServer(proxy)
	b.Cleanup(func() {
		srv.Close()
		transport.CloseIdleConnections()
	})
	return srv.Listener.Addr().String()
}

func waitHealthy(b *testing.B, addr string, exited <-chan error) {
	b.Helper()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			b.Fatalf("%s exited: %v", addr, err)
		default:
		}
		if resp, err := client.Get("http://" + addr + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatalf("%s never became healthy", addr)
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
