package logclient_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/logging"
	"github.com/gradebook/gradebook/logging/logclient"
	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/pkg/logx"
	"github.com/gradebook/gradebook/pkg/telemetry"
)

// logServer is a real log service on a real socket, which a test can stop and start again on
// the same address.
type logServer struct {
	t     *testing.T
	store *logging.Store
	addr  string
	mu    sync.Mutex
	srv   *http.Server
	done  chan struct{}
}

func startLogServer(t *testing.T) *logServer {
	t.Helper()
	store, err := logging.OpenStore(filepath.Join(t.TempDir(), "gradebook.log"), 100000, 0)
	if err != nil {
		t.Fatal(err)
	}
	ls := &logServer{t: t, store: store, addr: "127.0.0.1:0"}
	ls.start()
	t.Cleanup(func() { ls.stop(); store.Close() })
	return ls
}

func (ls *logServer) start() {
	ls.t.Helper()
	ln, err := net.Listen("tcp", ls.addr)
	if err != nil {
		ls.t.Fatal(err)
	}
	ls.addr = ln.Addr().String()
	r := httpx.NewRouter()
	logging.AddRoutes(r, logging.NewService(ls.store, nil), nil)
	srv := &http.Server{Handler: r}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	ls.mu.Lock()
	ls.srv, ls.done = srv, done
	ls.mu.Unlock()
}

func (ls *logServer) stop() {
	ls.mu.Lock()
	srv, done := ls.srv, ls.done
	ls.srv = nil
	ls.mu.Unlock()
	if srv != nil {
		srv.Close()
		<-done
	}
}

func (ls *logServer) entries(q logging.Query) []map[string]any {
	if q.Limit == 0 {
		q.Limit = 1 << 30
	}
	var out []map[string]any
	for _, raw := range ls.store.Recent(q) {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			ls.t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func testOptions(reg *telemetry.Metrics, stderr *testkit.Buffer) logclient.ShipperOptions {
	return logclient.ShipperOptions{
		Service:       "grading",
		Instance:      "127.0.0.1:6000",
		FlushInterval: 20 * time.Millisecond,
		MinBackoff:    10 * time.Millisecond,
		MaxBackoff:    100 * time.Millisecond,
		Metrics:       reg,
		Stderr:        log.NewLogfmtLogger(stderr),
	}
}

func TestShipperDeliversThroughServiceLogger(t *testing.T) {
	ls := startLogServer(t)
	reg := telemetry.New()
	var stderr testkit.Buffer
	sh := logclient.NewShipper(sd.FixedInstancer{ls.addr}, testOptions(reg, &stderr))

	// The way a service logs: logx's logger, with the shipper added as a sink.
	var console strings.Builder
	logger, fan := logx.New(&console, "grading", "info")
	fan.Add(sh)
	level.Info(logger).Log("msg", "grade added", "request_id", "req-42", "student", 3, "score", 91.5, "ok", true, "err", errors.New("boom"))
	level.Debug(logger).Log("msg", "filtered out below info")
	level.Error(logger).Log("msg", "second", "request_id", "req-43")

	testkit.Eventually(t, 5*time.Second, "two entries to arrive", func() bool { return ls.store.Len() == 2 })
	got := ls.entries(logging.Query{})
	first := got[0]
	want := map[string]any{"service": "grading", "instance": "127.0.0.1:6000", "level": "info", "msg": "grade added",
		"request_id": "req-42", "student": float64(3), "score": 91.5, "ok": true, "err": "boom"}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("%s = %#v, want %#v (entry %v)", k, first[k], v, first)
		}
	}
	if _, ok := first["ts"]; ok {
		t.Errorf("ts should become the entry's time, not a field: %v", first)
	}
	if ts, _ := time.Parse(time.RFC3339Nano, first["time"].(string)); time.Since(ts) > time.Minute || time.Since(ts) < 0 {
		t.Errorf("time %v is not the time of the log call", first["time"])
	}
	if got[1]["level"] != "error" || got[1]["request_id"] != "req-43" {
		t.Errorf("second entry %v", got[1])
	}
	if err := sh.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := testkit.MetricValue(t, reg.Gatherer(), "gradebook_log_shipper_shipped_entries_total"); n != 2 {
		t.Errorf("shipped_entries_total %v, want 2", n)
	}
}

// TestShipperKeepsOrderOfBatchesSealedDuringAnOutage seals many batches while the log service is
// down, only the first of which is ever tried before it comes back: once it takes a batch again,
// the batches that waited are delivered one at a time, oldest first, not all at once.
func TestShipperKeepsOrderOfBatchesSealedDuringAnOutage(t *testing.T) {
	ls := startLogServer(t)
	reg := telemetry.New()
	var stderr testkit.Buffer
	sh := logclient.NewShipper(sd.FixedInstancer{ls.addr}, testOptions(reg, &stderr))
	defer sh.Close(context.Background())

	ls.stop()
	const chunks, per = 12, 25
	for c := range chunks {
		for i := c * per; i < (c+1)*per; i++ {
			sh.Log("level", "info", "msg", fmt.Sprint("entry ", i), "seq", i)
		}
		// Longer than FlushInterval: each chunk is a batch of its own.
		time.Sleep(50 * time.Millisecond)
	}
	ls.start()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sh.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := ls.entries(logging.Query{})
	if len(got) != chunks*per {
		t.Fatalf("%d entries arrived, want %d", len(got), chunks*per)
	}
	for i, m := range got {
		if m["seq"] != float64(i) {
			t.Fatalf("entry %d is %v: the batches held through the outage arrived out of order", i, m["seq"])
		}
	}
}

func TestShipperKeepsEntriesWhileLogServiceIsDown(t *testing.T) {
	ls := startLogServer(t)
	reg := telemetry.New()
	var stderr testkit.Buffer
	opts := testOptions(reg, &stderr)
	opts.QueueSize = 1000
	sh := logclient.NewShipper(sd.FixedInstancer{ls.addr}, opts)
	defer sh.Close(context.Background())

	logN := func(from, to int) {
		for i := from; i < to; i++ {
			sh.Log("level", "info", "msg", fmt.Sprint("entry ", i), "seq", i, "request_id", fmt.Sprint("r", i))
		}
	}
	logN(0, 50)
	// Wait until the shipper has its answer too: a batch stored but unanswered when the server
	// goes away is sent again (at least once), which is not what this test is about.
	testkit.Eventually(t, 5*time.Second, "the first 50 entries", func() bool { return ls.store.Len() == 50 && sh.Pending() == 0 })

	ls.stop()
	down := time.Now()
	logN(50, 500)
	// Let the shipper fail and back off a few times while entries keep coming.
	failures := sh.Failures()
	testkit.Eventually(t, 5*time.Second, "failed attempts", func() bool { return sh.Failures() >= failures+4 })
	logN(500, 800)
	if ls.store.Len() != 50 {
		t.Fatalf("entries arrived while the log service was down")
	}
	ls.start() // same address
	t.Logf("log service down for %v; %d failed attempts", time.Since(down).Round(time.Millisecond), sh.Failures()-failures)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sh.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := ls.entries(logging.Query{})
	if len(got) != 800 {
		t.Fatalf("%d entries arrived, want 800", len(got))
	}
	for i, m := range got {
		if m["seq"] != float64(i) || m["request_id"] != fmt.Sprint("r", i) {
			t.Fatalf("entry %d is %v: order or content lost", i, m)
		}
	}
	if d := testkit.MetricValue(t, reg.Gatherer(), "gradebook_log_shipper_dropped_entries_total", "reason", "queue_full"); d != 0 {
		t.Errorf("%v entries dropped below the queue bound", d)
	}
	if !strings.Contains(stderr.String(), "cannot ship logs") || !strings.Contains(stderr.String(), "reachable again") {
		t.Errorf("the outage was not reported on stderr:\n%s", stderr.String())
	}
	if n := strings.Count(stderr.String(), "cannot ship logs"); n != 1 {
		t.Errorf("the outage was reported %d times, want once", n)
	}
}

func TestShipperDropsWithoutBlockingWhenFull(t *testing.T) {
	reg := telemetry.New()
	var stderr testkit.Buffer
	opts := testOptions(reg, &stderr)
	opts.QueueSize = 10
	// A listener that never answers would also do; nothing at all is listening here.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	sh := logclient.NewShipper(sd.FixedInstancer{dead}, opts)

	const n = 10000
	begin := time.Now()
	for i := range n {
		sh.Log("level", "info", "msg", "x", "i", i)
	}
	took := time.Since(begin)
	t.Logf("%d Log calls with nothing reachable: %v (%v per call)", n, took, took/n)

	dropped := testkit.MetricValue(t, reg.Gatherer(), "gradebook_log_shipper_dropped_entries_total", "reason", "queue_full")
	// The bound counts the entries in flight too: exactly 10 are taken.
	if dropped < n-10-logclient.DefaultBatchSize || dropped > n-10 {
		t.Errorf("dropped %v, want about %d", dropped, n-10)
	}
	if depth := testkit.MetricValue(t, reg.Gatherer(), "gradebook_log_shipper_queue_depth"); depth > 10 {
		t.Errorf("queue depth %v over the bound 10", depth)
	}
	if c := strings.Count(stderr.String(), "log queue is full"); c != 1 {
		t.Errorf("drops were reported %d times on stderr, want once", c)
	}
	rec := httptestGet(reg)
	if !strings.Contains(rec, "gradebook_log_shipper_dropped_entries_total") || !strings.Contains(rec, "gradebook_log_shipper_queue_depth") {
		t.Errorf("/metrics lacks the shipper's metrics:\n%s", rec)
	}

	// With nobody to ship to, Close reports the loss after one failed attempt of its own instead
	// of holding the caller until its deadline.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sh.Close(ctx); err == nil || !strings.Contains(err.Error(), "not shipped") || ctx.Err() != nil {
		t.Errorf("Close with nothing reachable: %v (ctx %v), want an error saying what was not shipped, before the deadline", err, ctx.Err())
	}
	if closed := testkit.MetricValue(t, reg.Gatherer(), "gradebook_log_shipper_dropped_entries_total", "reason", "closed"); closed < 1 {
		t.Errorf("entries left at Close not counted as dropped")
	}
	sh.Log("msg", "after close") // must not panic or block
}

func httptestGet(reg *telemetry.Metrics) string {
	var b strings.Builder
	w := &recorder{header: http.Header{}, body: &b}
	reg.Handler().ServeHTTP(w, &http.Request{Method: http.MethodGet, Header: http.Header{}})
	return b.String()
}

type recorder struct {
	header http.Header
	body   *strings.Builder
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }
func (r *recorder) WriteHeader(int)             {}

func TestShipperCloseFlushes(t *testing.T) {
	ls := startLogServer(t)
	opts := testOptions(nil, &testkit.Buffer{})
	opts.FlushInterval = time.Hour // only Close can make it ship
	sh := logclient.NewShipper(sd.FixedInstancer{ls.addr}, opts)
	for i := range 1234 {
		sh.Log("msg", "bye", "i", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sh.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := ls.store.Len(); n != 1234 {
		t.Fatalf("%d entries after Close, want 1234", n)
	}
}

func TestShipperWaitsForAnInstance(t *testing.T) {
	ls := startLogServer(t)
	in := &switchInstancer{}
	sh := logclient.NewShipper(in, testOptions(nil, &testkit.Buffer{}))
	defer sh.Close(context.Background())
	sh.Log("msg", "before any instance")
	testkit.Eventually(t, 5*time.Second, "a failed attempt", func() bool { return sh.Failures() > 0 })
	in.set(ls.addr)
	testkit.Eventually(t, 5*time.Second, "the entry", func() bool { return ls.store.Len() == 1 })
}

func TestShipperDropsRefusedBatch(t *testing.T) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.Error(w, http.StatusBadRequest, "no")
	})}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Close()
	reg := telemetry.New()
	var stderr testkit.Buffer
	sh := logclient.NewShipper(sd.FixedInstancer{ln.Addr().String()}, testOptions(reg, &stderr))
	sh.Log("msg", "refused")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sh.Close(ctx); err != nil {
		t.Fatalf("a refused batch must not stall the queue: %v", err)
	}
	if d := testkit.MetricValue(t, reg.Gatherer(), "gradebook_log_shipper_dropped_entries_total", "reason", "rejected"); d != 1 {
		t.Errorf("dropped{rejected} %v, want 1", d)
	}
	if !strings.Contains(stderr.String(), "refused") {
		t.Errorf("refusal not reported: %s", stderr.String())
	}
}

func TestShipperCutsHugeEntries(t *testing.T) {
	ls := startLogServer(t)
	sh := logclient.NewShipper(sd.FixedInstancer{ls.addr}, testOptions(nil, &testkit.Buffer{}))
	kv := []any{"msg", strings.Repeat("m", 200<<10)}
	for i := range 200 {
		kv = append(kv, fmt.Sprint("field", i), strings.Repeat("v", 2000))
	}
	sh.Log(kv...)
	if err := sh.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := ls.entries(logging.Query{})
	if len(got) != 1 || got[0]["truncated"] != true {
		t.Fatalf("huge entry: got %d entries, want one marked truncated", len(got))
	}
}

// switchInstancer is an sd.Instancer whose instances a test sets.
type switchInstancer struct {
	mu   sync.Mutex
	subs []chan<- sd.Event
}

func (s *switchInstancer) Register(ch chan<- sd.Event) {
	s.mu.Lock()
	s.subs = append(s.subs, ch)
	s.mu.Unlock()
	ch <- sd.Event{}
}

func (s *switchInstancer) Deregister(ch chan<- sd.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range s.subs {
		if c == ch {
			s.subs = append(s.subs[:i], s.subs[i+1:]...)
			return
		}
	}
}

func (s *switchInstancer) Stop() {}

func (s *switchInstancer) set(instances ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.subs {
		c <- sd.Event{Instances: instances}
	}
}

func BenchmarkShipperLog(b *testing.B) {
	for _, bc := range []struct {
		name string
		addr string
	}{{"shipping", ""}, {"nothing-reachable", "127.0.0.1:1"}} {
		b.Run(bc.name, func(b *testing.B) {
			store, err := logging.OpenStore(filepath.Join(b.TempDir(), "gradebook.log"), 1000, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			addr := bc.addr
			if addr == "" {
				r := httpx.NewRouter()
				logging.AddRoutes(r, logging.NewService(store, nil), nil)
				ln, _ := net.Listen("tcp", "127.0.0.1:0")
				srv := &http.Server{Handler: r}
				go srv.Serve(ln)
				defer srv.Close()
				addr = ln.Addr().String()
			}
			sh := logclient.NewShipper(sd.FixedInstancer{addr}, logclient.ShipperOptions{Service: "bench"})
			logger := log.With(sh, "ts", log.DefaultTimestampUTC)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				level.Info(logger).Log("msg", "request", "method", "GET", "path", "/students/1", "status", 200, "request_id", "abc", "i", i)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)-float64(sh.Enqueued()), "dropped")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			sh.Close(ctx)
		})
	}
}

// TestShipperRetryIsNotStoredTwice loses the answer to the first batch after it has been
// stored; the shipper sends it again, and the log service recognises it by its Idempotency-Key.
func TestShipperRetryIsNotStoredTwice(t *testing.T) {
	var mu sync.Mutex
	lost := false
	addr, store := serveLogService(t, func(r http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			mu.Lock()
			loseThis := !lost
			lost = true
			mu.Unlock()
			if !loseThis {
				r.ServeHTTP(w, req)
				return
			}
			r.ServeHTTP(discardWriter{header: http.Header{}}, req)
			panic(http.ErrAbortHandler) // the connection drops with no answer
		})
	})

	sh := logclient.NewShipper(sd.FixedInstancer{addr}, testOptions(nil, &testkit.Buffer{}))
	for i := range 3 {
		sh.Log("msg", "once", "i", i)
	}
	// Wait for the retry rather than Close at once: a Flush gives up as soon as an attempt of
	// its own fails, which the lost answer makes happen.
	testkit.Eventually(t, 10*time.Second, "the batch retried and acknowledged", func() bool { return sh.Pending() == 0 })
	if err := sh.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sh.Failures() == 0 {
		t.Fatal("the first answer was not lost")
	}
	if n := store.Len(); n != 3 {
		t.Errorf("%d entries stored, want 3 (each once)", n)
	}
}

// serveLogService serves the log service's routes, on a store of its own, through wrap, which
// lets a test stand between a shipper and the service; it stops at t's cleanup.
func serveLogService(t *testing.T, wrap func(http.Handler) http.Handler) (addr string, store *logging.Store) {
	t.Helper()
	store, err := logging.OpenStore(filepath.Join(t.TempDir(), "gradebook.log"), 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := httpx.NewRouter()
	logging.AddRoutes(r, logging.NewService(store, nil), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: wrap(r)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(); store.Close() })
	return ln.Addr().String(), store
}

type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}

// runLogService runs the real log service, listening on listen (port 0 picks one) with its data
// in dataDir, until stop is called; addr is where it serves. Its registry is unreachable: the
// service serves anyway, and the shipper under test is given the address directly.
func runLogService(t *testing.T, listen, dataDir string) (addr string, stop func()) {
	t.Helper()
	args := []string{"-listen", listen, "-registry", "http://127.0.0.1:1", "-data", dataDir}
	addr, _, stop = testkit.StartRun(t, logging.Run, args, nil)
	return addr, stop
}

func getLogs(t *testing.T, addr, query string) []map[string]any {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/v1/logs?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestShipperAcrossLogServiceRestart stops the real log service while a shipper keeps logging,
// starts it again on the same address and data, and finds every entry, in order.
func TestShipperAcrossLogServiceRestart(t *testing.T) {
	dir := t.TempDir()
	addr, stop := runLogService(t, "127.0.0.1:0", dir)
	opts := testOptions(nil, &testkit.Buffer{})
	sh := logclient.NewShipper(sd.FixedInstancer{addr}, opts)
	defer sh.Close(context.Background())
	logger := log.With(sh, "ts", log.DefaultTimestampUTC, "service", "grading")
	logN := func(from, to int) {
		for i := from; i < to; i++ {
			level.Info(logger).Log("msg", "request", "seq", i, "request_id", fmt.Sprint("req-", i))
		}
	}
	logN(0, 20)
	testkit.Eventually(t, 5*time.Second, "the first entries", func() bool { return sh.Pending() == 0 })

	stop()
	failures := sh.Failures()
	logN(20, 300)
	testkit.Eventually(t, 5*time.Second, "failed attempts while the log service is down", func() bool { return sh.Failures() >= failures+3 })
	logN(300, 400)

	_, stop = runLogService(t, addr, dir) // the same address, which the shipper keeps trying
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sh.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := getLogs(t, addr, "service=grading&limit=1000")
	if len(got) != 400 {
		t.Fatalf("%d entries, want 400", len(got))
	}
	for i, m := range got {
		if m["seq"] != float64(i) || m["request_id"] != fmt.Sprint("req-", i) || m["level"] != "info" {
			t.Fatalf("entry %d: %v", i, m)
		}
	}
}

// TestShipperSendsBatchesConcurrently holds the first batch in the log service while a second
// one is sent and stored beside it, and checks that Flush waits for the one held: it returns
// once every entry logged before it is stored, not once as many entries as that are.
func TestShipperSendsBatchesConcurrently(t *testing.T) {
	release := make(chan struct{})
	addr, store := serveLogService(t, func(r http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			body, _ := io.ReadAll(req.Body)
			if bytes.Contains(body, []byte(`"msg":"held"`)) {
				<-release
			}
			req.Body = io.NopCloser(bytes.NewReader(body))
			r.ServeHTTP(w, req)
		})
	})

	opts := testOptions(nil, &testkit.Buffer{})
	opts.BatchSize, opts.MaxInFlight, opts.FlushInterval = 10, 2, time.Hour
	sh := logclient.NewShipper(sd.FixedInstancer{addr}, opts)
	defer sh.Close(context.Background())
	for i := range 10 {
		sh.Log("msg", "held", "i", i)
	}
	for i := range 10 {
		sh.Log("msg", "passed", "i", i)
	}
	testkit.Eventually(t, 5*time.Second, "the second batch stored while the first is held", func() bool { return store.Len() == 10 })
	flushed := make(chan error, 1)
	go func() { flushed <- sh.Flush(context.Background()) }()
	for range 3 {
		// Flush's own checks run on every settled batch and every 20 ms: give it a few.
		time.Sleep(30 * time.Millisecond)
		select {
		case err := <-flushed:
			t.Fatalf("Flush returned (%v) with the first batch not stored", err)
		default:
		}
	}
	close(release)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if n := store.Len(); n != 20 {
		t.Fatalf("%d entries stored after Flush, want 20", n)
	}
	if n := sh.Pending(); n != 0 {
		t.Errorf("%d entries pending after Flush", n)
	}
}

// TestShipperKeepsEveryEntryOfConcurrentCallers: calls that find another one adding its entry
// encode beside it and copy their line in; every entry arrives once, whole, whichever way it
// went.
func TestShipperKeepsEveryEntryOfConcurrentCallers(t *testing.T) {
	ls := startLogServer(t)
	reg := telemetry.New()
	sh := logclient.NewShipper(sd.FixedInstancer{ls.addr}, testOptions(reg, &testkit.Buffer{}))
	const callers, each = 8, 500
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				sh.Log("level", level.InfoValue(), "msg", "concurrent", "caller", c, "i", i, "took", time.Duration(i)*time.Microsecond)
			}
		})
	}
	wg.Wait()
	if err := sh.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := ls.entries(logging.Query{})
	if len(got) != callers*each {
		t.Fatalf("%d entries stored, want %d", len(got), callers*each)
	}
	seen := map[[2]float64]bool{}
	for _, e := range got {
		key := [2]float64{e["caller"].(float64), e["i"].(float64)}
		if seen[key] || e["msg"] != "concurrent" || e["level"] != "info" || e["service"] != "grading" {
			t.Fatalf("entry %v repeated or not as logged", e)
		}
		seen[key] = true
	}
	if d := testkit.ShipperDropped(t, reg.Gatherer()); d != 0 {
		t.Errorf("%v entries dropped", d)
	}
}

// TestShipperDropsOverQueueBytes: an entry that would take the queue over QueueBytes is taken
// out of the batch it was encoded into, and the batch still ships whole, with the entries that
// fitted.
func TestShipperDropsOverQueueBytes(t *testing.T) {
	ls := startLogServer(t)
	in := &switchInstancer{}
	reg := telemetry.New()
	opts := testOptions(reg, &testkit.Buffer{})
	opts.QueueBytes = 1000
	opts.FlushInterval = time.Hour
	sh := logclient.NewShipper(in, opts)
	defer sh.Close(context.Background())
	for i := range 50 {
		sh.Log("msg", "bytes bound", "i", i, "pad", strings.Repeat("p", 50))
	}
	kept := sh.Pending()
	if kept == 0 || kept >= 50 {
		t.Fatalf("%d entries kept under a 1000-byte bound, want some and not all", kept)
	}
	if d := testkit.ShipperDropped(t, reg.Gatherer()); d != float64(50-kept) {
		t.Errorf("dropped %v, want %d", d, 50-kept)
	}
	in.set(ls.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sh.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := ls.entries(logging.Query{})
	if len(got) != kept {
		t.Fatalf("%d entries stored, want the %d kept", len(got), kept)
	}
	for _, e := range got {
		if e["msg"] != "bytes bound" || e["i"].(float64) >= float64(kept) {
			t.Errorf("stored %v, want the first %d entries", e, kept)
		}
	}
}
