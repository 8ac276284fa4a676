package jaegertest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gradebook/gradebook/internal/browsertest"
	"github.com/gradebook/gradebook/internal/testkit"
)

// Row is one row of the trace view's timeline, as the page shows it.
type Row struct {
	SpanID    string `json:"spanID"`
	Service   string `json:"service"`
	Operation string `json:"operation"`
	Depth     int    `json:"depth"`    // how many ancestors the span has in the trace
	Duration  string `json:"duration"` // as shown, "1.23 ms"
}

// View is what the trace view shows of one trace: the trace ID and services of its header, and
// its timeline's rows in order.
type View struct {
	TraceID  string   `json:"traceID"`
	Services []string `json:"services"`
	Rows     []Row    `json:"rows"`
}

// readView reads the trace view that the page shows, or its error message.
const readView = `(() => {
  const problem = document.querySelector(".problem");
  const id = document.querySelector(".trace-head .trace-id");
  return JSON.stringify({
    problem: problem ? problem.innerText : "",
    traceID: id ? id.textContent : "",
    services: Array.from(document.querySelectorAll(".trace-head dd .svc"), (s) => s.textContent),
    rows: Array.from(document.querySelectorAll(".waterfall .span-row"), (r) => ({
      spanID: r.dataset.spanId,
      service: r.querySelector(".svc").textContent,
      operation: r.querySelector(".op").textContent,
      depth: Number(r.dataset.depth),
      duration: r.querySelector(".dur").textContent,
    })),
  });
})()`

// WaitView waits until the page ctx shows is the trace view of traceID, drawn with a row for each
// of spanIDs, and returns what it shows. A trace's spans reach Jaeger in batches, so it reloads
// the page while the view says the trace, or some of its spans, are not there yet.
func WaitView(t testing.TB, ctx context.Context, traceID string, spanIDs ...string) View {
	t.Helper()
	var v View
	testkit.Until(t, 30*time.Second, func() string {
		step, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		raw, err := chromedp.Run(step, chromedp.Evaluate[string](readView))
		if err != nil {
			return err.Error()
		}
		var got struct {
			View
			Problem string `json:"problem"`
		}
		if err := json.Unmarshal([]byte(raw), &got); err != nil {
			return err.Error()
		}
		v = got.View
		if got.Problem != "" {
			_ = chromedp.Do(step, chromedp.Reload())
			return "the trace view says: " + got.Problem
		}
		if v.TraceID == "" {
			return "the page shows no trace (yet)"
		}
		if v.TraceID != traceID {
			return fmt.Sprintf("the trace view shows trace %q, want %s", v.TraceID, traceID)
		}
		shown := map[string]bool{}
		for _, r := range v.Rows {
			shown[r.SpanID] = true
		}
		for _, id := range spanIDs {
			if !shown[id] {
				_ = chromedp.Do(step, chromedp.Reload())
				return fmt.Sprintf("the trace view has no row for span %s; it shows %+v", id, v.Rows)
			}
		}
		return ""
	})
	return v
}

// TraceScreenshot opens the trace traceID in the trace view of the Jaeger at uiURL (gradebook's
// own, which the Jaeger we build serves), in headless Chromium, waits until its timeline has a row
// for every one of spanIDs, and returns what it shows and a screenshot. The screenshot is also
// saved, named after the test, under the test's temp dir and in $GRADEBOOK_ARTIFACTS when that is
// set. Call browsertest.Have first.
func TraceScreenshot(t testing.TB, uiURL, traceID string, spanIDs ...string) (View, []byte) {
	t.Helper()
	ctx := browsertest.Start(t, chromedp.WindowSize(1280, 900))
	step, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(step, chromedp.Navigate(strings.TrimSuffix(uiURL, "/")+"/trace/"+traceID)); err != nil {
		t.Fatalf("open the trace in Jaeger: %v", err)
	}
	v := WaitView(t, step, traceID, spanIDs...)
	return v, browsertest.Screenshot(t, step, "jaeger-trace")
}
