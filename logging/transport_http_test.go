package logging

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/gradebook/gradebook/logging/logclient"
	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/pkg/idempotency"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type testService struct {
	store  *Store
	router *mux.Router
}

func newTestService(t *testing.T, window int) *testService {
	t.Helper()
	store, err := OpenStore(filepath.Join(t.TempDir(), "log", "gradebook.log"), window, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r := httpx.NewRouter()
	AddRoutes(r, NewService(store, nil), func() time.Time { return testNow })
	return &testService{store: store, router: r}
}

func (ts *testService) do(method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	ts.router.ServeHTTP(rec, req)
	return rec
}

func errorBody(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body httpx.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == "" {
		t.Fatalf("error body %q is not {\"error\":...}: %v", rec.Body.String(), err)
	}
	return body.Error
}

func fileLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("file line %q is not a JSON object: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestPostBatch(t *testing.T) {
	bigMsg := strings.Repeat("x", logclient.MaxEntryBytes)
	tooMany := "[" + strings.TrimSuffix(strings.Repeat(`{"msg":"a"},`, logclient.MaxBatchEntries+1), ",") + "]"
	var manyFields strings.Builder
	manyFields.WriteString(`[{"msg":"a"`)
	for i := range logclient.MaxFields + 1 {
		fmt.Fprintf(&manyFields, `,"f%d":1`, i)
	}
	manyFields.WriteString("}]")
	tests := []struct {
		name    string
		body    string
		status  int
		want    int    // entries stored
		errWant string // part of the error message
	}{
		{"one entry", `[{"time":"2026-01-02T03:04:05Z","service":"grading","instance":"127.0.0.1:6000","level":"info","msg":"hello","request_id":"r1"}]`, 200, 1, ""},
		{"no time is stamped", `[{"msg":"a"},{"msg":"b","time":null}]`, 200, 2, ""},
		{"empty batch", `[]`, 200, 0, ""},
		{"extra fields of any type", `[{"msg":"a","n":1,"ok":true,"obj":{"k":[1,2]},"nil":null}]`, 200, 1, ""},
		{"empty body", ``, 400, 0, "empty"},
		{"malformed JSON", `[{"msg":"a"`, 400, 0, "truncated"},
		{"syntax error", `[{"msg":"a"} {"msg":"b"}]`, 400, 0, "malformed"},
		{"an object, not an array", `{"msg":"a"}`, 400, 0, "array"},
		{"null", `null`, 400, 0, "array"},
		{"a string", `"hello"`, 400, 0, ""},
		{"element not an object", `[{"msg":"a"}, 42]`, 400, 0, "entry 1"},
		{"element null", `[null]`, 400, 0, "entry 0"},
		{"msg not a string", `[{"msg":1}]`, 400, 0, "msg must be a string"},
		{"service not a string", `[{"service":["a"]}]`, 400, 0, "service"},
		{"bad time", `[{"msg":"a","time":"yesterday"}]`, 400, 0, "RFC 3339"},
		{"partial garbage: good entries then a bad one", `[{"msg":"a"},{"msg":"b"},{"msg":"c","time":"no"}]`, 400, 0, "entry 2"},
		{"trailing garbage", `[{"msg":"a"}] xyz`, 400, 0, "single JSON value"},
		{"too many entries", tooMany, 400, 0, "the most is 1000"},
		{"entry too large", `[{"msg":"` + bigMsg + `"}]`, 400, 0, "bytes"},
		{"too many fields", manyFields.String(), 400, 0, "fields"},
		{"long field name", `[{"` + strings.Repeat("k", 200) + `":1}]`, 400, 0, "field name"},
		{"service too long", `[{"service":"` + strings.Repeat("s", 300) + `"}]`, 400, 0, "longer"},
		{"over 1 MiB", `[{"msg":"` + strings.Repeat("x", httpx.MaxBody) + `"}]`, 413, 0, "1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestService(t, 100)
			rec := ts.do(http.MethodPost, "/v1/logs", tt.body, "Content-Type", "application/json")
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.status != 200 {
				if msg := errorBody(t, rec); !strings.Contains(msg, tt.errWant) {
					t.Errorf("error %q does not mention %q", msg, tt.errWant)
				}
			} else {
				var got acceptedResponse
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Accepted != tt.want {
					t.Errorf("answer %s, want accepted %d", rec.Body, tt.want)
				}
			}
			if n := ts.store.Len(); n != tt.want {
				t.Errorf("%d entries in the window, want %d", n, tt.want)
			}
			if lines := fileLines(t, ts.store.Path()); len(lines) != tt.want {
				t.Errorf("%d lines in the file, want %d", len(lines), tt.want)
			}
		})
	}
}

func TestPostBatchStampsAndNormalizes(t *testing.T) {
	ts := newTestService(t, 100)
	rec := ts.do(http.MethodPost, "/v1/logs", `[{"msg":"a","level":"WARNING","obj":{ "k" : [1, 2] }}]`)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	lines := fileLines(t, ts.store.Path())
	got := lines[0]
	if got["time"] != testNow.Format(time.RFC3339Nano) || got["level"] != "warn" || got["msg"] != "a" {
		t.Errorf("stored %v: want the time stamped as %v and level warn", got, testNow)
	}
	raw, _ := os.ReadFile(ts.store.Path())
	if !bytes.Contains(raw, []byte(`"obj":{"k":[1,2]}`)) {
		t.Errorf("nested field not kept compact: %s", raw)
	}
}

func TestCourseLine(t *testing.T) {
	tests := []struct {
		name, target, body string
		hdr                []string
		status             int
		service, msg       string
	}{
		{"course line", "/log", "[grading] - started\n", nil, 200, "", "[grading] - started"},
		{"service from header", "/log", "hello\r\n", []string{"X-Service", "grading"}, 200, "grading", "hello"},
		{"service from query", "/log?service=portal", "hello", nil, 200, "portal", "hello"},
		{"JSON-looking text is still text", "/log", `{"msg":1}`, nil, 200, "", `{"msg":1}`},
		{"empty", "/log", "", nil, 400, "", ""},
		{"only a newline", "/log", "\n", nil, 400, "", ""},
		{"over 1 MiB", "/log", strings.Repeat("x", httpx.MaxBody+1), nil, 413, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestService(t, 100)
			hdr := append([]string{"Content-Type", "text/plain"}, tt.hdr...)
			rec := ts.do(http.MethodPost, tt.target, tt.body, hdr...)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if tt.status != 200 {
				errorBody(t, rec)
				if ts.store.Len() != 0 {
					t.Error("a refused line was stored")
				}
				return
			}
			lines := fileLines(t, ts.store.Path())
			if len(lines) != 1 || lines[0]["msg"] != tt.msg || lines[0]["service"] != tt.service {
				t.Errorf("stored %v, want msg %q service %q", lines, tt.msg, tt.service)
			}
		})
	}
}

func TestRouteErrors(t *testing.T) {
	ts := newTestService(t, 100)
	tests := []struct {
		method, target string
		status         int
		allow          string
	}{
		{http.MethodGet, "/log", 405, "POST"},
		{http.MethodPut, "/v1/logs", 405, "GET, HEAD, POST"},
		{http.MethodDelete, "/v1/logs", 405, "GET, HEAD, POST"},
		{http.MethodGet, "/v1/nothing", 404, ""},
		{http.MethodGet, "/", 404, ""},
	}
	for _, tt := range tests {
		rec := ts.do(tt.method, tt.target, "")
		if rec.Code != tt.status {
			t.Errorf("%s %s: status %d, want %d", tt.method, tt.target, rec.Code, tt.status)
			continue
		}
		errorBody(t, rec)
		if got := rec.Header().Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.target, got, tt.allow)
		}
	}
}

func getEntries(t *testing.T, ts *testService, target string) []map[string]any {
	t.Helper()
	rec := ts.do(http.MethodGet, target, "")
	if rec.Code != 200 {
		t.Fatalf("GET %s: status %d: %s", target, rec.Code, rec.Body)
	}
	var out []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("GET %s: %v: %s", target, err, rec.Body)
	}
	return out
}

func TestRecentFilters(t *testing.T) {
	ts := newTestService(t, 2000)
	// 1200 entries, one a second up to testNow, cycling through services and levels.
	services := []string{"grading", "portal", "registry"}
	levels := []string{"debug", "info", "warn", "error"}
	var batch []string
	post := func() {
		if rec := ts.do(http.MethodPost, "/v1/logs", "["+strings.Join(batch, ",")+"]"); rec.Code != 200 {
			t.Fatalf("post: %d %s", rec.Code, rec.Body)
		}
		batch = batch[:0]
	}
	const total = 1200
	for i := range total {
		at := testNow.Add(time.Duration(i-total+1) * time.Second)
		batch = append(batch, fmt.Sprintf(`{"time":%q,"service":%q,"level":%q,"msg":"m%d","request_id":"r%d"}`,
			at.Format(time.RFC3339), services[i%3], levels[i%4], i, i))
		if len(batch) == 500 {
			post()
		}
	}
	post()

	tests := []struct {
		query string
		n     int
		check func(m map[string]any) bool
		last  string // msg of the newest entry
	}{
		{"", DefaultLimit, nil, "m1199"},
		{"?limit=5", 5, nil, "m1199"},
		{"?limit=1000", 1000, nil, "m1199"},
		{"?limit=5000", MaxLimit, nil, "m1199"},
		{"?service=grading&limit=1000", 400, func(m map[string]any) bool { return m["service"] == "grading" }, "m1197"},
		{"?service=nobody", 0, nil, ""},
		{"?level=error&limit=1000", 300, func(m map[string]any) bool { return m["level"] == "error" }, "m1199"},
		{"?level=warn&limit=1000", 600, func(m map[string]any) bool { return m["level"] == "warn" || m["level"] == "error" }, "m1199"},
		{"?level=debug&limit=1000", 1000, nil, "m1199"},
		{"?since=10s", 11, nil, "m1199"},
		{"?since=" + testNow.Add(-4*time.Second).Format(time.RFC3339), 5, nil, "m1199"},
		{"?request_id=r7", 1, func(m map[string]any) bool { return m["request_id"] == "r7" }, "m7"},
		{"?service=portal&level=error&since=1m&limit=2", 2, func(m map[string]any) bool { return m["service"] == "portal" && m["level"] == "error" }, "m1195"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			got := getEntries(t, ts, "/v1/logs"+tt.query)
			if len(got) != tt.n {
				t.Fatalf("%d entries, want %d", len(got), tt.n)
			}
			for i, m := range got {
				if tt.check != nil && !tt.check(m) {
					t.Fatalf("entry %d does not match the filter: %v", i, m)
				}
				if i > 0 && m["time"].(string) < got[i-1]["time"].(string) {
					t.Fatalf("entries not newest last at %d", i)
				}
			}
			if tt.n > 0 && got[len(got)-1]["msg"] != tt.last {
				t.Errorf("newest %v, want %s", got[len(got)-1]["msg"], tt.last)
			}
		})
	}

	bad := []string{"?limit=0", "?limit=-1", "?limit=abc", "?limit=1.5", "?level=loud", "?since=yesterday", "?since=-5m"}
	for _, q := range bad {
		rec := ts.do(http.MethodGet, "/v1/logs"+q, "")
		if rec.Code != 400 {
			t.Errorf("GET %s: status %d, want 400", q, rec.Code)
			continue
		}
		errorBody(t, rec)
	}
}

func TestFileIsJSONLines(t *testing.T) {
	ts := newTestService(t, 100)
	ts.do(http.MethodPost, "/v1/logs", `[{"service":"grading","msg":"line\nbreak <b>","request_id":"r1"},{"msg":"two","obj":{"a":
	1}}]`)
	ts.do(http.MethodPost, "/log", "course\n")
	raw, err := os.ReadFile(ts.store.Path())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(raw, []byte("\n")) || bytes.Count(raw, []byte("\n")) != 3 {
		t.Fatalf("want 3 newline-terminated lines, got %q", raw)
	}
	lines := fileLines(t, ts.store.Path())
	if lines[0]["msg"] != "line\nbreak <b>" || lines[0]["request_id"] != "r1" || lines[2]["msg"] != "course" {
		t.Errorf("lines %v", lines)
	}
	for _, l := range lines {
		for _, k := range []string{"time", "service", "instance", "level", "msg"} {
			if _, ok := l[k]; !ok {
				t.Errorf("line %v lacks %q", l, k)
			}
		}
	}
}

func TestRestartReloadsWindow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gradebook.log")
	store, err := OpenStore(path, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 25 {
		if _, err := store.Append([]logclient.Entry{{Time: testNow.Add(time.Duration(i) * time.Second), Service: "grading", Level: "info", Msg: fmt.Sprint("m", i)}}, i%2 == 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append([]logclient.Entry{{Msg: "late"}}, true); err == nil {
		t.Error("append after Close succeeded")
	}
	// A crash mid-write leaves a torn last line.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"time":"2026-`)
	f.Close()

	store, err = OpenStore(path, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if store.Len() != 10 {
		t.Fatalf("window holds %d after restart, want 10", store.Len())
	}
	got := store.Recent(Query{Limit: 100})
	for i, raw := range got {
		var m map[string]any
		json.Unmarshal(raw, &m)
		if want := fmt.Sprint("m", i+15); m["msg"] != want {
			t.Errorf("entry %d is %v, want %s", i, m["msg"], want)
		}
	}
	if _, err := store.Append([]logclient.Entry{{Time: testNow, Msg: "after restart"}}, true); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "after restart") || !strings.HasPrefix(last, "{") {
		t.Errorf("the entry after the torn line is not on a line of its own: %q", last)
	}
	if len(lines) != 27 {
		t.Errorf("%d lines, want 25 + the torn one + 1", len(lines))
	}
}

func FuzzDecodeBatch(f *testing.F) {
	seeds := []string{
		`[]`, `[{}]`, `null`, `{}`, `[{"msg":"a","time":"2026-01-02T03:04:05.123Z","level":"INFO","x":{"y":[1,2,null]}}]`,
		`[{"msg":1}]`, `[1,2]`, `[{"time":"x"}]`, `[{"a":"\u0000","b":"\ud800"}]`, `[{"msg":"a"}] [`, "[{\"msg\":\"\xff\"}]",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		entries, err := DecodeBatch(body, testNow)
		if err != nil {
			if StatusOfErr := httpx.StatusOf(err); StatusOfErr != http.StatusBadRequest {
				t.Fatalf("error %v maps to %d, want 400", err, StatusOfErr)
			}
			return
		}
		if len(entries) > logclient.MaxBatchEntries {
			t.Fatalf("%d entries accepted", len(entries))
		}
		for _, e := range entries {
			line, err := e.MarshalJSON()
			if err != nil {
				t.Fatalf("accepted entry does not encode: %v", err)
			}
			if bytes.ContainsAny(line, "\n\r") || !json.Valid(line) {
				t.Fatalf("encoded entry is not one JSON line: %q", line)
			}
			again, err := decodeEntry(line, time.Time{})
			if err != nil {
				t.Fatalf("stored line does not decode again: %v: %q", err, line)
			}
			line2, _ := again.MarshalJSON()
			if !bytes.Equal(line, line2) {
				t.Fatalf("stored line changes on a round trip:\n%s\n%s", line, line2)
			}
		}
	})
}

// BenchmarkAppend shows what the per-batch fsync costs: a batch of 100 typical entries, written
// with and without it.
func BenchmarkAppend(b *testing.B) {
	batch := make([]logclient.Entry, 100)
	for i := range batch {
		batch[i] = logclient.Entry{Time: testNow, Service: "grading", Level: "info", Msg: "request",
			Fields: map[string]json.RawMessage{"path": json.RawMessage(`"/students/1"`), "status": json.RawMessage(`200`)}}
	}
	for _, durable := range []bool{false, true} {
		b.Run(fmt.Sprint("durable=", durable), func(b *testing.B) {
			store, err := OpenStore(filepath.Join(b.TempDir(), "gradebook.log"), 1000, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			for b.Loop() {
				if _, err := store.Append(batch, durable); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/batch")
		})
	}
}

func TestIdempotencyKey(t *testing.T) {
	ts := newTestService(t, 100)
	body := `[{"msg":"a"},{"msg":"b"}]`
	for i, wantDup := range []bool{false, true, true} {
		rec := ts.do(http.MethodPost, "/v1/logs", body, idempotency.Header, "batch-1")
		var got acceptedResponse
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &got) != nil || got.Accepted != 2 || got.Duplicate != wantDup {
			t.Fatalf("post %d: %d %s, want accepted 2 duplicate %v", i, rec.Code, rec.Body, wantDup)
		}
	}
	ts.do(http.MethodPost, "/v1/logs", body, idempotency.Header, "batch-2")
	ts.do(http.MethodPost, "/v1/logs", body) // no key: always stored
	if rec := ts.do(http.MethodPost, "/v1/logs", body, idempotency.Header, strings.Repeat("k", idempotency.MaxKeyLen)); rec.Code != 200 {
		t.Errorf("a key of the longest length: %d %s, want 200", rec.Code, rec.Body)
	}
	if n := ts.store.Len(); n != 8 {
		t.Errorf("%d entries stored, want 8", n)
	}
	rec := ts.do(http.MethodPost, "/v1/logs", body, idempotency.Header, strings.Repeat("k", idempotency.MaxKeyLen+1))
	if rec.Code != 400 || !strings.Contains(errorBody(t, rec), "at most 255 bytes") {
		t.Errorf("overlong key: %d %s, want 400 saying how long a key may be", rec.Code, rec.Body)
	}
	if n := ts.store.Len(); n != 8 {
		t.Errorf("a batch with an overlong key was stored: %d entries, want 8", n)
	}
}
