package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gradebook/gradebook/internal/browsertest"
	"github.com/gradebook/gradebook/internal/jaeger"
	"github.com/gradebook/gradebook/internal/jaegertest"
	"github.com/gradebook/gradebook/registry/registrytest"
)

// TestEndToEndTracing runs "gradebook up -tracing" with the real Jaeger from tools/jaeger, over
// each of grading's transports, and follows one request for /students/1 that carries a known
// traceparent: Jaeger has that trace, with the portal's server and client spans and grading's
// server, endpoint and store spans, each the child of the one before; the request's log lines,
// on stderr and in the log service, carry the trace's ID; and in Chromium, the portal's /status
// page links the request's log line to the trace, whose timeline Jaeger shows hop by hop. Then
// Jaeger is stopped: the pages still answer, and the spans that could not be exported are
// counted on /metrics.
func TestEndToEndTracing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Jaeger and the whole system")
	}
	bin := buildGradebook(t)
	jaegerBin := jaegertest.Binary(t) // skips loudly without CI, fails under CI=true
	for _, transport := range []string{"http", "grpc"} {
		t.Run(transport, func(t *testing.T) {
			// Spans leave every 200 ms, and an export to a stopped Jaeger gives up after 2 s, so
			// that the test sees both soon; the services read these standard variables themselves.
			env := []string{"OTEL_BSP_SCHEDULE_DELAY=200", "OTEL_BSP_EXPORT_TIMEOUT=2000", "OTEL_EXPORTER_OTLP_TIMEOUT=2000"}
			s := startSystemWithEnv(t, bin, env, "-tracing", "-jaeger-bin", jaegerBin, "-grading-transport", transport)
			ui := jaeger.DefaultAddrs("127.0.0.1").Offset(s.offset).UIURL()
			if !strings.Contains(s.output(), ui+"/") {
				t.Errorf("up does not print Jaeger's UI, %s:\n%s", ui, s.output())
			}

			traceID, parent := randomHex(t, 16), randomHex(t, 8)
			a := do(t, http.MethodGet, s.portal()+"/students/1", "", "", "traceparent", "00-"+traceID+"-"+parent+"-01")
			if a.status != http.StatusOK {
				t.Fatalf("GET /students/1 with a traceparent: %d %s", a.status, a.body)
			}
			j := traceReader{ui: ui}
			var spans, hops []jaegertest.Span
			eventually(t, 30*time.Second, func() string {
				var why string
				spans, hops, why = j.complete(traceID, parent, transport)
				return why
			})
			for _, sp := range spans {
				t.Logf("span %s %-8s %-6s %-28s parent %s", sp.SpanID, sp.Service, sp.Kind, sp.OperationName, sp.ParentSpanID)
			}

			t.Run("log lines carry the trace ID", func(t *testing.T) {
				for _, service := range []string{"portal", "grading"} {
					re := regexp.MustCompile(`(?m)^` + service + `\s+\|.*\btrace_id=` + traceID + `\b`)
					eventually(t, 10*time.Second, func() string {
						if !re.MatchString(s.output()) {
							return service + " logged no line with trace_id=" + traceID + " on stderr"
						}
						return ""
					})
					eventually(t, 10*time.Second, func() string {
						a := do(t, http.MethodGet, s.logs()+"/v1/logs?service="+service+"&limit=1000", "", "")
						var entries []map[string]any
						if err := json.Unmarshal([]byte(a.body), &entries); err != nil {
							return "log service: " + err.Error()
						}
						for _, e := range entries {
							if e["trace_id"] == traceID {
								return ""
							}
						}
						return fmt.Sprintf("the log service has no %s entry with trace_id %s among %d", service, traceID, len(entries))
					})
				}
			})

			if registrytest.HaveChromium(t) {
				t.Run("from /status to the trace's timeline", func(t *testing.T) {
					clickThroughToTrace(t, s.portal(), ui, traceID, transport, hops)
				})
			}

			t.Run("Jaeger stopped: pages answer, dropped spans counted", func(t *testing.T) {
				if err := syscall.Kill(s.pid("jaeger"), syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				eventually(t, 20*time.Second, func() string {
					if !strings.Contains(s.output(), "gradebook: jaeger exited") {
						return "up has not seen Jaeger exit"
					}
					return ""
				})
				before := droppedSpans(t, s.portal())
				for i := range 20 {
					for _, path := range []string{"/students", "/students/1", "/api/v1/students/1"} {
						if a := do(t, http.MethodGet, s.portal()+path, "", ""); a.status != http.StatusOK {
							t.Fatalf("request %d, GET %s with Jaeger stopped: %d %s", i, path, a.status, a.body)
						}
					}
				}
				eventually(t, 90*time.Second, func() string {
					if n := droppedSpans(t, s.portal()); n <= before {
						return fmt.Sprintf("the portal counts %v dropped spans, as many as before Jaeger stopped", n)
					}
					return ""
				})
			})
		})
	}
}

// traceReader reads traces from the Jaeger whose UI and query API is at ui.
type traceReader struct{ ui string }

// complete fetches the trace and says what it still lacks: a portal server span that is the child
// of the caller's span parent, a portal client span under it, grading's server span the child of
// such a client span, grading's GetStudent endpoint span under the server span, and the store's span
// under the endpoint's. Once nothing is missing it returns the trace's spans, and those five hops
// in that order.
func (r traceReader) complete(traceID, parent, transport string) (spans, hops []jaegertest.Span, why string) {
	spans, found, err := jaegertest.TraceAt(r.ui, traceID)
	switch {
	case err != nil:
		return nil, nil, err.Error()
	case !found:
		return nil, nil, "Jaeger does not have trace " + traceID + " yet"
	}
	byID := map[string]jaegertest.Span{}
	for _, sp := range spans {
		byID[sp.SpanID] = sp
	}
	// under reports whether s descends from the span ancestor within the same service.
	under := func(s jaegertest.Span, ancestor string) bool {
		for p := s.ParentSpanID; p != ""; p = byID[p].ParentSpanID {
			if p == ancestor {
				return true
			}
			if byID[p].Service != s.Service {
				return false
			}
		}
		return false
	}
	find := func(what string, ok func(jaegertest.Span) bool) (jaegertest.Span, string) {
		for _, sp := range spans {
			if ok(sp) {
				return sp, ""
			}
		}
		var have []string
		for _, sp := range spans {
			have = append(have, fmt.Sprintf("%s/%s/%s(%s<-%s)", sp.Service, sp.Kind, sp.OperationName, sp.SpanID, sp.ParentSpanID))
		}
		return jaegertest.Span{}, "trace " + traceID + " has no " + what + " yet; it has " + strings.Join(have, " ")
	}
	portalServer, why := find("portal server span, child of the caller's", func(sp jaegertest.Span) bool {
		return sp.Service == "portal" && sp.Kind == "server" && sp.ParentSpanID == parent
	})
	if why != "" {
		return nil, nil, why
	}
	portalClient := func(sp jaegertest.Span) bool {
		return sp.Service == "portal" && sp.Kind == "client" && under(sp, portalServer.SpanID)
	}
	if _, why := find("portal client span under the portal's server span", portalClient); why != "" {
		return nil, nil, why
	}
	gradingServer, why := find("grading server span, child of a portal client span", func(sp jaegertest.Span) bool {
		return sp.Service == "grading" && sp.Kind == "server" && portalClient(byID[sp.ParentSpanID])
	})
	if why != "" {
		return nil, nil, why
	}
	if transport == "grpc" && !strings.Contains(gradingServer.OperationName, "Grading/") {
		return nil, nil, "grading's server span is " + gradingServer.OperationName + ", not a gRPC method of Grading"
	}
	endpoint, why := find("grading GetStudent endpoint span under grading's server span", func(sp jaegertest.Span) bool {
		_, store := sp.Tags["db.system"]
		return sp.Service == "grading" && !store && sp.Kind != "server" && strings.Contains(sp.OperationName, "GetStudent") &&
			under(sp, gradingServer.SpanID)
	})
	if why != "" {
		return nil, nil, why
	}
	store, why := find("store span under grading's endpoint span", func(sp jaegertest.Span) bool {
		_, store := sp.Tags["db.system"]
		return sp.Service == "grading" && store && under(sp, endpoint.SpanID)
	})
	if why != "" {
		return nil, nil, why
	}
	return spans, []jaegertest.Span{portalServer, byID[gradingServer.ParentSpanID], gradingServer, endpoint, store}, ""
}

// clickThroughToTrace does what a user does to see where a request's time went: in Chromium, it
// opens the portal's /status page, finds the log line of the request whose trace is traceID, clicks
// its trace link and lands on the trace in Jaeger (ui), whose timeline must show every one of hops,
// by name and service, each below the one before; then it takes a screenshot of the timeline.
func clickThroughToTrace(t *testing.T, portal, ui, traceID, transport string, hops []jaegertest.Span) {
	ctx := browsertest.Start(t, chromedp.WindowSize(1280, 900))
	step, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	traceURL := ui + "/trace/" + traceID
	link := `a.trace[href="` + traceURL + `"]`
	count, _ := json.Marshal(link)
	// The request's log lines reach the log service in batches: reload /status until one is there.
	eventually(t, 30*time.Second, func() string {
		if err := chromedp.Do(step, chromedp.Navigate(portal+"/status")); err != nil {
			return "open /status: " + err.Error()
		}
		n, err := chromedp.Run(step, chromedp.Evaluate[int]("document.querySelectorAll("+string(count)+").length"))
		if err != nil {
			return err.Error()
		}
		if n == 0 {
			return "/status shows no log line linked to " + traceURL
		}
		return ""
	})
	if err := chromedp.Do(step, chromedp.Click(chromedp.CSS(link))); err != nil {
		t.Fatalf("click the log line's trace link: %v", err)
	}
	ids := make([]string, len(hops))
	for i, h := range hops {
		ids[i] = h.SpanID
	}
	v := jaegertest.WaitView(t, step, traceID, ids...)
	if at, err := chromedp.Run(step, chromedp.Location()); err != nil || at != traceURL {
		t.Errorf("the trace link led to %s (%v), want %s", at, err, traceURL)
	}

	// The names the code gives each hop, as the timeline must show them.
	client, server := "GET 127.0.0.1:", "GET /students/{id}"
	if transport == "grpc" {
		client, server = "gradebook.grading.v1.Grading/GetStudent", "gradebook.grading.v1.Grading/GetStudent"
	}
	want := []struct{ service, name string }{
		{"portal", "GET /students/{id}"}, {"portal", client}, {"grading", server}, {"grading", "grading.GetStudent"}, {"grading", "store.GetStudent"},
	}
	rows := map[string]jaegertest.Row{}
	for _, r := range v.Rows {
		rows[r.SpanID] = r
		t.Logf("row %*s%-8s %-42s %s", 2*r.Depth, "", r.Service, r.Operation, r.Duration)
	}
	depth := -1
	for i, h := range hops {
		r := rows[h.SpanID]
		if r.Service != want[i].service || r.Operation != h.OperationName || !strings.HasPrefix(r.Operation, want[i].name) {
			t.Errorf("hop %d: the timeline shows %s %q, want %s %q (Jaeger has %s %q)", i+1, r.Service, r.Operation, want[i].service, want[i].name, h.Service, h.OperationName)
		}
		if r.Depth <= depth {
			t.Errorf("hop %d (%s) is drawn at depth %d, not below the hop before it (depth %d)", i+1, r.Operation, r.Depth, depth)
		}
		if !strings.HasSuffix(r.Duration, " ms") {
			t.Errorf("hop %d (%s) shows no duration in ms: %q", i+1, r.Operation, r.Duration)
		}
		depth = r.Depth
	}
	for _, service := range []string{"portal", "grading"} {
		if !slices.Contains(v.Services, service) {
			t.Errorf("the trace's header names the services %q, not %s", v.Services, service)
		}
	}
	// A click on the store's row shows its attributes: which database, which operation.
	store := `.span-row[data-span-id="` + hops[len(hops)-1].SpanID + `"]`
	if err := chromedp.Do(step, chromedp.Click(chromedp.CSS(store))); err != nil {
		t.Fatalf("click the store span's row: %v", err)
	}
	detail, err := chromedp.Run(step, chromedp.Evaluate[string](`document.querySelector('`+store+`').nextElementSibling.innerText`))
	if err != nil || !strings.Contains(detail, "db.system") {
		t.Errorf("a click on the store span's row shows %q (%v), not its attributes", detail, err)
	}
	browsertest.Screenshot(t, step, "jaeger-trace")
}

// droppedSpans is the sum, over its reasons, of the spans the service at base counts as dropped
// on /metrics.
func droppedSpans(t testing.TB, base string) float64 {
	t.Helper()
	a := do(t, http.MethodGet, base+"/metrics", "", "")
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(a.body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "gradebook_tracing_spans_dropped_total") {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			t.Fatalf("/metrics: %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
