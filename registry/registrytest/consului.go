package registrytest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gradebook/gradebook/internal/testkit"
)

// ChromiumPath is where Debian's chromium package puts the browser.
const ChromiumPath = "/usr/bin/chromium"

// HaveChromium reports whether Chromium is installed. Without it, it fails the test under CI and
// otherwise says loudly that the browser part is left out, so that the caller can go on with the
// rest of its test.
func HaveChromium(t testing.TB) bool {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err == nil {
		return true
	} else if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing under CI: install the chromium package (%v)", ChromiumPath, err)
	}
	t.Logf("\n*** LEFT OUT: the browser check needs %s (apt-get install chromium); under CI it fails instead.", ChromiumPath)
	return false
}

// ConsulUIScreenshot opens the services page of Consul's UI at consulURL in headless Chromium,
// waits until every one of names is listed there, and returns a screenshot of it. The screenshot
// is also saved, named after the test, under the test's temp dir and in $GRADEBOOK_ARTIFACTS when
// that is set. Call HaveChromium first.
func ConsulUIScreenshot(t testing.TB, consulURL string, names []string) []byte {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(ChromiumPath), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	// The first Do starts the browser and must carry no timeout (it would bound the browser's
	// life); everything after it does.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
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
	shot, err := chromedp.Run(step, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	for _, dir := range []string{t.TempDir(), os.Getenv("GRADEBOOK_ARTIFACTS")} {
		if dir == "" {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Errorf("artifacts folder: %v", err)
			continue
		}
		p := filepath.Join(dir, "consul-ui-"+regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")+".jpg")
		if err := os.WriteFile(p, shot, 0o644); err != nil {
			t.Errorf("save screenshot: %v", err)
		} else {
			t.Logf("Consul UI screenshot: %s (%d bytes)", p, len(shot))
		}
	}
	return shot
}
