package jaeger_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gradebook/gradebook/internal/browsertest"
	"github.com/gradebook/gradebook/internal/jaeger"
	"github.com/gradebook/gradebook/internal/jaegertest"
	"github.com/gradebook/gradebook/internal/testkit"
)

// TestJaegerConfigWritesTheTraceView: the trace view's files land where the configuration says Jaeger serves them from.
func TestJaegerConfigWritesTheTraceView(t *testing.T) {
	dir := t.TempDir()
	path, err := jaeger.WriteConfig(dir, jaeger.DefaultAddrs("127.0.0.1"), 10, "info")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	assets := filepath.Join(dir, "ui")
	if want := fmt.Sprintf("assets_path: %q", assets); !strings.Contains(string(cfg), want) {
		t.Errorf("the configuration lacks %s:\n%s", want, cfg)
	}
	for _, f := range []string{"index.html", "static/gradebook-traces.js", "static/gradebook-traces.css"} {
		got, err := os.ReadFile(filepath.Join(assets, f))
		if err != nil {
			t.Errorf("WriteConfig wrote no %s: %v", f, err)
			continue
		}
		if want := source(t, f); string(got) != want {
			t.Errorf("%s differs from ui/%s", f, f)
		}
	}
}

// source is the file path of the trace view, as it is in the source tree.
func source(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("ui", filepath.FromSlash(path)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestJaegerServesTheTraceView: the real Jaeger, configured by WriteConfig, answers the paths the
// portal links to and its search pages with the trace view's page, serves its script and style
// sheet, and still answers its query API.
func TestJaegerServesTheTraceView(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts Jaeger")
	}
	j := jaegertest.Start(t)
	get := func(path string) (int, string, string) {
		t.Helper()
		resp, err := http.Get(j.UIURL() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	for _, path := range []string{"/", "/search", "/search?service=portal&lookback=1h&limit=20", "/trace/0af7651916cd43dd8448eb211c80319c", "/trace/not-hex"} {
		status, ctype, body := get(path)
		if status != http.StatusOK || !strings.HasPrefix(ctype, "text/html") {
			t.Errorf("GET %s: %d %s, want 200 text/html", path, status, ctype)
		}
		for _, want := range []string{`<script src="static/gradebook-traces.js" defer></script>`, `href="static/gradebook-traces.css"`, "gradebook's minimal trace view"} {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s: the page lacks %s; it is:\n%s", path, want, body)
			}
		}
	}
	for path, ctype := range map[string]string{"/static/gradebook-traces.js": "text/javascript", "/static/gradebook-traces.css": "text/css"} {
		status, got, body := get(path)
		if status != http.StatusOK || !strings.HasPrefix(got, ctype) || body != source(t, strings.TrimPrefix(path, "/")) {
			t.Errorf("GET %s: %d %s (%d bytes), want 200 %s with ui%s", path, status, got, len(body), ctype, path)
		}
	}
	if status, ctype, body := get("/api/services"); status != http.StatusOK || !strings.HasPrefix(ctype, "application/json") {
		t.Errorf("GET /api/services: %d %s %s, want 200 and JSON", status, ctype, body)
	}
}

// otlpSpan is a span as OTLP's JSON encoding gives it, so that the test needs no SDK.
type otlpSpan struct {
	service, id, parent, name string
	kind                      int
	start, end                time.Duration // from the trace's start
	attrs                     map[string]string
	event                     string
	failed                    bool
}

// sendSpans sends spans of the trace traceID, starting at t0, to j over OTLP/HTTP.
func sendSpans(t *testing.T, j *jaegertest.Jaeger, traceID string, t0 time.Time, spans ...otlpSpan) {
	t.Helper()
	type kv = map[string]any
	str := func(k, v string) kv { return kv{"key": k, "value": kv{"stringValue": v}} }
	var resources []kv
	for _, s := range spans {
		attrs := []kv{}
		for k, v := range s.attrs {
			attrs = append(attrs, str(k, v))
		}
		span := kv{"traceId": traceID, "spanId": s.id, "parentSpanId": s.parent, "name": s.name, "kind": s.kind,
			"startTimeUnixNano": fmt.Sprint(t0.Add(s.start).UnixNano()), "endTimeUnixNano": fmt.Sprint(t0.Add(s.end).UnixNano()),
			"attributes": attrs}
		if s.event != "" {
			span["events"] = []kv{{"timeUnixNano": fmt.Sprint(t0.Add(s.start + time.Millisecond).UnixNano()), "name": s.event,
				"attributes": []kv{str("attempt", "1")}}}
		}
		if s.failed {
			span["status"] = kv{"code": 2, "message": "no such student"}
		}
		resources = append(resources, kv{
			"resource":   kv{"attributes": []kv{str("service.name", s.service)}},
			"scopeSpans": []kv{{"scope": kv{"name": "uitest"}, "spans": []kv{span}}},
		})
	}
	body, err := json.Marshal(kv{"resourceSpans": resources})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(j.Addrs().OTLPHTTPEndpoint()+"/v1/traces", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/traces: %s", resp.Status)
	}
}

// TestJaegerTraceViewInChromium draws a trace of three spans from two services in the trace view, in
// Chromium: one row per span, in order, indented by depth, bars placed by start and sized by
// duration; a click shows a span's attributes and events; a name that looks like markup is shown
// as text; a trace whose spans arrive late is drawn when they do; an unknown trace and a
// malformed ID say so; the search page lists the trace and links to it.
func TestJaegerTraceViewInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts Jaeger and Chromium")
	}
	browsertest.Require(t)
	j := jaegertest.Start(t)
	const traceID = "5b8aa5a2d2c872e8321cf37308d69df2"
	const markup = `<img src=x id=injected>GET /students/{id}`
	t0 := time.Now().Add(-time.Minute)
	sendSpans(t, j, traceID, t0,
		otlpSpan{service: "portal", id: "1000000000000001", name: "GET /students/{id}", kind: 2, start: 0, end: 40 * time.Millisecond,
			attrs: map[string]string{"http.route": "/students/{id}"}},
		otlpSpan{service: "grading", id: "1000000000000002", parent: "1000000000000001", name: markup, kind: 2,
			start: 10 * time.Millisecond, end: 30 * time.Millisecond},
		otlpSpan{service: "grading", id: "1000000000000003", parent: "1000000000000002", name: "store.GetStudent", kind: 1,
			start: 20 * time.Millisecond, end: 30 * time.Millisecond, attrs: map[string]string{"db.system": "bbolt"},
			event: "student looked up", failed: true},
	)
	testkit.Until(t, 30*time.Second, func() string {
		spans, _, err := j.Trace(traceID)
		if err != nil {
			return err.Error()
		}
		if len(spans) != 3 {
			return fmt.Sprintf("Jaeger has %d of the trace's 3 spans", len(spans))
		}
		return ""
	})

	v, _ := jaegertest.TraceScreenshot(t, j.UIURL(), traceID, "1000000000000001", "1000000000000002", "1000000000000003")
	want := []jaegertest.Row{
		{SpanID: "1000000000000001", Service: "portal", Operation: "GET /students/{id}", Depth: 0, Duration: "40.0 ms"},
		{SpanID: "1000000000000002", Service: "grading", Operation: markup, Depth: 1, Duration: "20.0 ms"},
		{SpanID: "1000000000000003", Service: "grading", Operation: "store.GetStudent", Depth: 2, Duration: "10.0 ms"},
	}
	if fmt.Sprint(v.Rows) != fmt.Sprint(want) {
		t.Errorf("the timeline shows\n%+v\nwant\n%+v", v.Rows, want)
	}
	if fmt.Sprint(v.Services) != "[portal grading]" {
		t.Errorf("the header names the services %q, want portal and grading", v.Services)
	}

	ctx := browsertest.Start(t, chromedp.WindowSize(1280, 900))
	step, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	eval := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(step, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}
	if err := chromedp.Do(step, chromedp.Navigate(j.UIURL()+"/trace/"+traceID), chromedp.WaitVisible(chromedp.CSS(".span-row"))); err != nil {
		t.Fatalf("open the trace: %v", err)
	}
	// Bars: the root spans the whole width; the store's starts halfway and is a quarter wide.
	bars := eval(`JSON.stringify(Array.from(document.querySelectorAll(".span-row .bar"), (b) => [parseFloat(b.style.left), parseFloat(b.style.width)]))`)
	if bars != "[[0,100],[25,50],[50,25]]" {
		t.Errorf("the bars are placed at [left%%, width%%] %s, want [[0,100],[25,50],[50,25]]", bars)
	}
	if n := eval(`String(document.querySelectorAll("img, #injected").length)`); n != "0" {
		t.Errorf("an operation name made %s elements of the page: data must be shown as text", n)
	}
	if got := eval(`document.querySelector('.span-row[data-span-id="1000000000000003"]').className`); !strings.Contains(got, "error") {
		t.Errorf("the failed span's row is %q, not marked as an error", got)
	}
	detail := `document.querySelector('.span-row[data-span-id="1000000000000003"]').nextElementSibling`
	if hidden := eval(`String(` + detail + `.hidden)`); hidden != "true" {
		t.Errorf("a span's details show before its row is clicked")
	}
	if err := chromedp.Do(step, chromedp.Click(chromedp.CSS(`.span-row[data-span-id="1000000000000003"]`))); err != nil {
		t.Fatal(err)
	}
	text := eval(detail + `.innerText`)
	for _, w := range []string{"db.system", "bbolt", "otel.status_description", "no such student", "student looked up", "attempt=1", "1000000000000002",
		"self time (in no child span)\t10.0 ms"} {
		if !strings.Contains(text, w) {
			t.Errorf("the store span's details lack %q; they show:\n%s", w, text)
		}
	}

	// The root lasted 40 ms, of which its child took 20.
	if err := chromedp.Do(step, chromedp.Click(chromedp.CSS(`.span-row[data-span-id="1000000000000001"]`))); err != nil {
		t.Fatal(err)
	}
	if text := eval(`document.querySelector('.span-row[data-span-id="1000000000000001"]').nextElementSibling.innerText`); !strings.Contains(text, "self time (in no child span)\t20.0 ms") {
		t.Errorf("the root span's details do not give its self time as 20.0 ms:\n%s", text)
	}

	var at string
	page := func(path, want string) {
		t.Helper()
		if at != path {
			if err := chromedp.Do(step, chromedp.Navigate(j.UIURL()+path)); err != nil {
				t.Fatalf("open %s: %v", path, err)
			}
			at = path
		}
		testkit.Until(t, 40*time.Second, func() string {
			if got := eval(`document.querySelector("main").innerText`); !strings.Contains(got, want) {
				return fmt.Sprintf("%s shows %q, not %q", path, got, want)
			}
			return ""
		})
	}
	// A trace opened before its spans arrive is drawn once they do, without a reload.
	const late = "5b8aa5a2d2c872e8321cf37308d69df4"
	page("/trace/"+late, "Jaeger has no trace "+late+" yet")
	sendSpans(t, j, late, t0, otlpSpan{service: "portal", id: "2000000000000001", name: "GET /students", kind: 2, end: time.Millisecond})
	testkit.Until(t, 30*time.Second, func() string {
		if got := eval(`document.querySelector("main").innerText`); !strings.Contains(got, "GET /students") || !strings.Contains(got, late) {
			return "the page still shows " + got
		}
		return ""
	})
	// One that never arrives is given up on, and the page says so.
	page("/trace/5b8aa5a2d2c872e8321cf37308d69df3", "Jaeger has no trace 5b8aa5a2d2c872e8321cf37308d69df3 yet")
	page("/trace/5b8aa5a2d2c872e8321cf37308d69df3", "Trace not found")
	page("/trace/not-a-trace", `"not-a-trace" is not a trace ID`)
	page("/search?service=grading", "1 trace, newest first")
	if href := eval(`document.querySelector("a.trace-link").href`); href != j.UIURL()+"/trace/"+traceID {
		t.Errorf("the search page links the trace to %s, want %s", href, j.UIURL()+"/trace/"+traceID)
	}
	page("/search?trace="+strings.ToUpper(traceID), "store.GetStudent")
	if footer := eval(`document.querySelector("footer").innerText`); !strings.Contains(footer, "gradebook's minimal trace view") || !strings.Contains(footer, "official image") {
		t.Errorf("the footer does not say whose view this is: %q", footer)
	}
}
