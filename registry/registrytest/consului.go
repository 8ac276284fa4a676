package registrytest

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gradebook/gradebook/internal/browsertest"
	"github.com/gradebook/gradebook/internal/testkit"
)

// HaveChromium reports whether Chromium is installed; see browsertest.Have.
func HaveChromium(t testing.TB) bool {
	t.Helper()
	return browsertest.Have(t)
}

// ConsulUIScreenshot opens the services page of Consul's UI at consulURL in headless Chromium,
// waits until every one of names is listed there, and returns a screenshot of it. The screenshot
// is also saved, named after the test, under the test's temp dir and in $GRADEBOOK_ARTIFACTS when
// that is set. Call HaveChromium first.
func ConsulUIScreenshot(t testing.TB, consulURL string, names []string) []byte {
	t.Helper()
	ctx := browsertest.Start(t, chromedp.WindowSize(1280, 900))
	step, cancelStep := context.WithTimeout(ctx, 60*time.Second)
	defer cancelStep()
	if err := chromedp.Do(step, chromedp.Navigate(consulURL+"/ui/dc1/services")); err != nil {
		t.Fatalf("open Consul's UI: %v", err)
	}
	testkit.Until(t, 30*time.Second, func() string {
		text, err := chromedp.Run(step, chromedp.Evaluate[string]("document.body.innerText"))
		if err != nil {
			return err.Error()
		}
		for _, n := range names {
			if !regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(n) + `\s*$`).MatchString(text) {
				return fmt.Sprintf("Consul's UI does not list %q yet; it shows:\n%s", n, text)
			}
		}
		return ""
	})
	return browsertest.Screenshot(t, step, "consul-ui")
}
