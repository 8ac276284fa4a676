package logging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

	"github.com/gradebook/gradebook/pkg/config"
	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/pkg/logx"
	"github.com/gradebook/gradebook/pkg/service"
	"github.com/gradebook/gradebook/pkg/telemetry"
)

// The wiring every service uses must compile against the real runtime.
var _ = func(rt *service.Runtime, cfg config.Common, stderr *strings.Builder) {
	sh := NewShipper(rt.Instancer("log"), ShipperOptions{Service: cfg.Name, Instance: rt.Config.Advertise, Metrics: rt.Metrics, Stderr: StderrLogger(stderr, cfg.Name)})
	rt.AddLogSink(sh, sh.Close)
}

// logServer is a real log service on a real socket, which a test can stop and start again on
// the same address.
type logServer struct {
	t     *testing.T
	store *Store
	addr  string
	mu    sync.Mutex
	srv   *http.Server
	done  chan struct{}
}

func startLogServer(t *testing.T) *logServer {
	t.Helper()
	store, err := OpenStore(filepath.Join(t.TempDir(), "gradebook.log"), 100000, 0)
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
	AddRoutes(r, NewService(ls.store, nil), nil)
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

func (ls *logServer) entries(q Query) []map[string]any {
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

// metricValue reads one sample from reg (0 when absent).
func metricValue(t *testing.T, reg *telemetry.Metrics, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testOptions(reg *telemetry.Metrics, stderr *syncBuilder) ShipperOptions {
	return ShipperOptions{
		Service:       "grading",
		Instance:      "127.0.0.1:6000",
		FlushInterval: 20 * time.Millisecond,
		MinBackoff:    10 * time.Millisecond,
		MaxBackoff:    100 * time.Millisecond,
		Metrics:       reg,
		Stderr:        log.NewLogfmtLogger(stderr),
	}
}

type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestShipperDeliversThroughServiceLogger(t *testing.T) {
	ls := startLogServer(t)
	reg := telemetry.New()
	var stderr syncBuilder
	sh := NewShipper(sd.FixedInstancer{ls.addr}, testOptions(reg, &stderr))

	// The way a service logs: logx's logger, with the shipper added as a sink.
	var console strings.Builder
	logger, fan := logx.New(&console, "grading", "info")
	fan.Add(sh)
	level.Info(logger).Log("msg", "grade added", "request_id", "req-42", "student", 3, "score", 91.5, "ok", true, "err", errors.New("boom"))
	level.Debug(logger).Log("msg", "filtered out below info")
	level.Error(logger).Log("msg", "second", "request_id", "req-43")

	waitFor(t, "two entries to arrive", 5*time.Second, func() bool { return ls.store.Len() == 2 })
	got := ls.entries(Query{})
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
	if n := metricValue(t, reg, "gradebook_log_shipper_shipped_entries_total"); n != 2 {
		t.Errorf("shipped_entries_total %v, want 2", n)
	}
}

func TestShipperKeepsEntriesWhileLogServiceIsDown(t *testing.T) {
	ls := startLogServer(t)
	reg := telemetry.New()
	var stderr syncBuilder
	opts := testOptions(reg, &stderr)
	opts.QueueSize = 1000
	sh := NewShipper(sd.FixedInstancer{ls.addr}, opts)
	defer sh.Close(context.Background())

	logN := func(from, to int) {
		for i := from; i < to; i++ {
			sh.Log("level", "info", "msg", fmt.Sprint("entry ", i), "seq", i, "request_id", fmt.Sprint("r", i))
		}
	}
	logN(0, 50)
	// Wait until the shipper has its answer too: a batch stored but unanswered when the server
	// goes away is sent again (at least once), which is not what this test is about.
	waitFor(t, "the first 50 entries", 5*time.Second, func() bool { return ls.store.Len() == 50 && sh.Pending() == 0 })

	ls.stop()
	down := time.Now()
	logN(50, 500)
	// Let the shipper fail and back off a few times while entries keep coming.
	failures := sh.failures.Load()
	waitFor(t, "failed attempts", 5*time.Second, func() bool { return sh.failures.Load() >= failures+4 })
	logN(500, 800)
	if ls.store.Len() != 50 {
		t.Fatalf("entries arrived while the log service was down")
	}
	ls.start() // same address
	t.Logf("log service down for %v; %d failed attempts", time.Since(down).Round(time.Millisecond), sh.failures.Load()-failures)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sh.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := ls.entries(Query{})
	if len(got) != 800 {
		t.Fatalf("%d entries arrived, want 800", len(got))
	}
	for i, m := range got {
		if m["seq"] != float64(i) || m["request_id"] != fmt.Sprint("r", i) {
			t.Fatalf("entry %d is %v: order or content lost", i, m)
		}
	}
	if d := metricValue(t, reg, "gradebook_log_shipper_dropped_entries_total", "reason", "queue_full"); d != 0 {
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
	var stderr syncBuilder
	opts := testOptions(reg, &stderr)
	opts.QueueSize = 10
	// A listener that never answers would also do; nothing at all is listening here.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	sh := NewShipper(sd.FixedInstancer{dead}, opts)

	const n = 10000
	begin := time.Now()
	for i := range n {
		sh.Log("level", "info", "msg", "x", "i", i)
	}
	took := time.Since(begin)
	t.Logf("%d Log calls with nothing reachable: %v (%v per call)", n, took, took/n)

	dropped := metricValue(t, reg, "gradebook_log_shipper_dropped_entries_total", "reason", "queue_full")
	// The goroutine may hold one batch beside the 10 queued entries.
	if dropped < n-10-DefaultBatchSize || dropped > n-10 {
		t.Errorf("dropped %v, want about %d", dropped, n-10)
	}
	if depth := metricValue(t, reg, "gradebook_log_shipper_queue_depth"); depth > 10 {
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
	if closed := metricValue(t, reg, "gradebook_log_shipper_dropped_entries_total", "reason", "closed"); closed < 1 {
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
	opts := testOptions(nil, &syncBuilder{})
	opts.FlushInterval = time.Hour // only Close can make it ship
	sh := NewShipper(sd.FixedInstancer{ls.addr}, opts)
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
	sh := NewShipper(in, testOptions(nil, &syncBuilder{}))
	defer sh.Close(context.Background())
	sh.Log("msg", "before any instance")
	waitFor(t, "a failed attempt", 5*time.Second, func() bool { return sh.failures.Load() > 0 })
	in.set(ls.addr)
	waitFor(t, "the entry", 5*time.Second, func() bool { return ls.store.Len() == 1 })
}

func TestShipperDropsRefusedBatch(t *testing.T) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.Error(w, http.StatusBadRequest, "no")
	})}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Close()
	reg := telemetry.New()
	var stderr syncBuilder
	sh := NewShipper(sd.FixedInstancer{ln.Addr().String()}, testOptions(reg, &stderr))
	sh.Log("msg", "refused")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sh.Close(ctx); err != nil {
		t.Fatalf("a refused batch must not stall the queue: %v", err)
	}
	if d := metricValue(t, reg, "gradebook_log_shipper_dropped_entries_total", "reason", "rejected"); d != 1 {
		t.Errorf("dropped{rejected} %v, want 1", d)
	}
	if !strings.Contains(stderr.String(), "refused") {
		t.Errorf("refusal not reported: %s", stderr.String())
	}
}

func TestShipperCutsHugeEntries(t *testing.T) {
	ls := startLogServer(t)
	sh := NewShipper(sd.FixedInstancer{ls.addr}, testOptions(nil, &syncBuilder{}))
	kv := []any{"msg", strings.Repeat("m", 200<<10)}
	for i := range 200 {
		kv = append(kv, fmt.Sprint("field", i), strings.Repeat("v", 2000))
	}
	sh.Log(kv...)
	if err := sh.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := ls.entries(Query{})
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

func TestEntryFromKeyvals(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	var nilErr *panicky
	tests := []struct {
		name    string
		keyvals []any
		check   func(e Entry) string
	}{
		{"ts as time", []any{"ts", at, "msg", "m"}, func(e Entry) string {
			return cmp(e.Time.Equal(at) && e.Msg == "m" && e.Fields == nil, e)
		}},
		{"ts as go-kit timestamp", boundTimestamp(at), func(e Entry) string {
			return cmp(e.Time.Equal(at) && e.Fields == nil, e)
		}},
		{"level value", []any{level.Key(), level.WarnValue()}, func(e Entry) string { return cmp(e.Level == "warn", e) }},
		{"service overrides", []any{"service", "portal"}, func(e Entry) string { return cmp(e.Service == "portal", e) }},
		{"odd keyvals", []any{"msg", "m", "lonely"}, func(e Entry) string { return cmp(string(e.Fields["lonely"]) == `"(MISSING)"`, e) }},
		{"nil pointer error", []any{"err", nilErr}, func(e Entry) string { return cmp(strings.Contains(string(e.Fields["err"]), "PANIC"), e) }},
		{"NaN", []any{"x", nan()}, func(e Entry) string { return cmp(string(e.Fields["x"]) == `"NaN"`, e) }},
		{"duration", []any{"took", 1500 * time.Millisecond}, func(e Entry) string { return cmp(string(e.Fields["took"]) == `"1.5s"`, e) }},
		{"nil", []any{"v", nil}, func(e Entry) string { return cmp(string(e.Fields["v"]) == `null`, e) }},
		{"non-string key", []any{42, "v"}, func(e Entry) string { return cmp(string(e.Fields["42"]) == `"v"`, e) }},
		{"time not a time", []any{"time", "soon"}, func(e Entry) string { return cmp(string(e.Fields["time_value"]) == `"soon"`, e) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := entryFromKeyvals(tt.keyvals, "grading", "i", at.Add(time.Hour))
			if msg := tt.check(e); msg != "" {
				t.Error(msg)
			}
			if _, err := e.MarshalJSON(); err != nil {
				t.Error(err)
			}
		})
	}
}

type panicky struct{ s *string }

func (p *panicky) Error() string { return *p.s }

// boundTimestamp is what a logger built by log.With(..., "ts", log.DefaultTimestampUTC) passes on.
func boundTimestamp(at time.Time) []any {
	var got []any
	l := log.With(log.LoggerFunc(func(kv ...any) error { got = kv; return nil }),
		"ts", log.TimestampFormat(func() time.Time { return at }, time.RFC3339Nano))
	l.Log("msg", "m")
	return got
}

func cmp(ok bool, e Entry) string {
	if ok {
		return ""
	}
	fields := map[string]string{}
	for k, v := range e.Fields {
		fields[k] = string(v)
	}
	return fmt.Sprintf("unexpected entry %+v fields %v", e, fields)
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}

func BenchmarkShipperLog(b *testing.B) {
	for _, bc := range []struct {
		name string
		addr string
	}{{"shipping", ""}, {"nothing-reachable", "127.0.0.1:1"}} {
		b.Run(bc.name, func(b *testing.B) {
			store, err := OpenStore(filepath.Join(b.TempDir(), "gradebook.log"), 1000, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			addr := bc.addr
			if addr == "" {
				r := httpx.NewRouter()
				AddRoutes(r, NewService(store, nil), nil)
				ln, _ := net.Listen("tcp", "127.0.0.1:0")
				srv := &http.Server{Handler: r}
				go srv.Serve(ln)
				defer srv.Close()
				addr = ln.Addr().String()
			}
			sh := NewShipper(sd.FixedInstancer{addr}, ShipperOptions{Service: "bench"})
			logger := log.With(sh, "ts", log.DefaultTimestampUTC)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				level.Info(logger).Log("msg", "request", "method", "GET", "path", "/students/1", "status", 200, "request_id", "abc", "i", i)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)-float64(sh.enqueued.Load()), "dropped")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			sh.Close(ctx)
		})
	}
}

// TestShipperRetryIsNotStoredTwice loses the answer to the first batch after it has been
// stored; the shipper sends it again, and the log service recognises it by its Idempotency-Key.
func TestShipperRetryIsNotStoredTwice(t *testing.T) {
	store, err := OpenStore(filepath.Join(t.TempDir(), "gradebook.log"), 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	r := httpx.NewRouter()
	AddRoutes(r, NewService(store, nil), nil)
	var mu sync.Mutex
	lost := false
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
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
	})}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Close()

	sh := NewShipper(sd.FixedInstancer{ln.Addr().String()}, testOptions(nil, &syncBuilder{}))
	for i := range 3 {
		sh.Log("msg", "once", "i", i)
	}
	if err := sh.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sh.failures.Load() == 0 {
		t.Fatal("the first answer was not lost")
	}
	if n := store.Len(); n != 3 {
		t.Errorf("%d entries stored, want 3 (each once)", n)
	}
}

type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}
