package portal

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/gradebook/gradebook/grading/pgtest"
	"github.com/gradebook/gradebook/pkg/idempotency"
)

// BenchmarkStores measures grading on its two stores and the gateway over one and over three
// PostgreSQL-backed instances, in one run, in alternating rounds (as BenchmarkGateway does):
//
//	(bg) GET  /students/1 on grading over bbolt, direct
//	(pg) GET  /students/1 on grading over PostgreSQL, direct
//	(bp) POST /students/2/grades on grading over bbolt, direct (each with its own Idempotency-Key)
//	(pp) POST /students/2/grades on grading over PostgreSQL, direct
//	(g1) GET  /api/v1/students/1 through the portal, over one PostgreSQL-backed instance
//	(g3) GET  /api/v1/students/1 through the portal, over three instances on the same database
//
// and reports req/s, p50, p99 and the ratio pg/bg (target: at least 0.5). Everything runs in this
// process and PostgreSQL beside it on the same cores, as on a laptop. It needs
// GRADEBOOK_TEST_POSTGRES (see grading/pgtest). Run it with
//
//	go test -run '^$' -bench 'BenchmarkStores$' -benchtime 1x ./portal/
func BenchmarkStores(b *testing.B) {
	concurrency := envInt("GRADEBOOK_BENCH_CONCURRENCY", benchConcurrency)
	db := pgtest.URL(b)
	bolt := startGradingProcessLike(b)
	pg := []string{
		startGradingProcessLike(b, "-store", db),
		startGradingProcessLike(b, "-store", db),
		startGradingProcessLike(b, "-store", db),
	}
	one, three := startPortal(b, pg[0]), startPortal(b, pg...)

	var keys atomic.Int64
	post := func(addr string) func() *http.Request {
		// Posts go to student 2, so that the reads of student 1 keep reading the same five grades.
		u, _ := url.Parse("http://" + addr + "/students/2/grades")
		return func() *http.Request {
			n := keys.Add(1)
			body := []byte(`{"title":"Bench ` + strconv.FormatInt(n, 10) + `","type":"Quiz","score":90}`)
			h := http.Header{"Content-Type": {"application/json"}, idempotency.Header: {fmt.Sprintf("bench-%d", n)}}
			return &http.Request{Method: http.MethodPost, URL: u, Header: h, Host: u.Host,
				Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
		}
	}
	get := func(target string) func() *http.Request {
		u, _ := url.Parse(target)
		return func() *http.Request {
			return &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}, Host: u.Host}
		}
	}
	targets := []struct {
		key, name string
		want      int
		next      func() *http.Request
	}{
		{"bg", "GET direct, bbolt", 200, get("http://" + bolt + "/students/1")},
		{"pg", "GET direct, PostgreSQL", 200, get("http://" + pg[0] + "/students/1")},
		{"bp", "POST direct, bbolt", 201, post(bolt)},
		{"pp", "POST direct, PostgreSQL", 201, post(pg[0])},
		{"g1", "gateway, 1 PG instance", 200, get("http://" + one + "/api/v1/students/1")},
		{"g3", "gateway, 3 PG instances", 200, get("http://" + three + "/api/v1/students/1")},
	}
	const rounds = 4
	samples := map[string][]loadResult{}
	for range b.N {
		for _, tg := range targets {
			runLoadOf(b, concurrency, benchWarmup, tg.want, tg.next)
		}
		for range rounds {
			for _, tg := range targets {
				samples[tg.key] = append(samples[tg.key], runLoadOf(b, concurrency, benchDuration/rounds, tg.want, tg.next))
			}
		}
	}
	b.StopTimer()
	results := map[string]loadResult{}
	for k, rs := range samples {
		results[k] = merge(rs)
	}
	b.Logf("closed loop: %d keep-alive clients, %v per target, GOMAXPROCS=%d", concurrency, benchDuration, runtime.GOMAXPROCS(0))
	for _, tg := range targets {
		r := results[tg.key]
		b.Logf("(%s) %-26s %8.0f req/s  p50 %-9v p99 %-9v errors %d", tg.key, tg.name, r.rps, r.p50, r.p99, r.errors)
		b.ReportMetric(r.rps, tg.key+"_req/s")
		b.ReportMetric(float64(r.p99.Microseconds()), tg.key+"_p99_µs")
		if r.errors > 0 {
			b.Errorf("(%s) %d requests failed", tg.key, r.errors)
		}
	}
	ratio := results["pg"].rps / results["bg"].rps
	verdict := "met"
	if ratio < 0.5 {
		verdict = "NOT met"
	}
	b.ReportMetric(ratio, "pg/bg")
	b.ReportMetric(results["g3"].rps/results["g1"].rps, "g3/g1")
	b.Logf("target PostgreSQL GET >= 0.5 of bbolt GET: %s (pg/bg = %.3f); POST pp/bp = %.3f; gateway g3/g1 = %.3f",
		verdict, ratio, results["pp"].rps/results["bp"].rps, results["g3"].rps/results["g1"].rps)
}
