package jaegertest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gradebook/gradebook/internal/browsertest"
	"github.com/gradebook/gradebook/internal/testkit"
)

// TraceScreenshot opens the trace traceID as the Jaeger at uiURL serves it, in headless Chromium,
// waits until the page shows the trace's ID and every one of want (white space aside), and returns
// a screenshot. The page is the query API's /api/traces/{id}: a Jaeger built from the Go module serves a placeholder
// where the UI's trace view would be, since the UI's assets are not in the module. The screenshot
// is also saved, named after the test, under the test's temp dir and in $GRADEBOOK_ARTIFACTS when
// that is set. Call browsertest.Have first.
func TraceScreenshot(t testing.TB, uiURL, traceID string, want ...string) []byte {
	t.Helper()
	ctx := browsertest.Start(t, chromedp.WindowSize(1280, 900))
	step, cancelStep := context.WithTimeout(ctx, 60*time.Second)
	defer cancelStep()
	if err := chromedp.Do(step, chromedp.Navigate(uiURL+"/api/traces/"+traceID+"?prettyPrint=true")); err != nil {
		t.Fatalf("open the trace in Jaeger: %v", err)
	}
	testkit.Until(t, 30*time.Second, func() string {
		text, err := chromedp.Run(step, chromedp.Evaluate[string]("document.body.innerText"))
		if err != nil {
			return err.Error()
		}
		// Compared without white space, which pretty-printing adds.
		squeeze := func(s string) string { return strings.Join(strings.Fields(s), "") }
		for _, w := range append([]string{traceID}, want...) {
			if !strings.Contains(squeeze(text), squeeze(w)) {
				return "Jaeger's page does not show " + w + " yet; it shows:\n" + text
			}
		}
		return ""
	})
	return browsertest.Screenshot(t, step, "jaeger-trace")
}
