// Package browsertest starts the real Chromium that the browser tests drive with chromedp: Debian's
// chromium package, headless, with a profile of its own that is removed with the test. It is a
// package of its own, not part of internal/testkit, so that only the tests that drive a browser
// link chromedp.
package browsertest

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package puts the browser.
const ChromiumPath = "/usr/bin/chromium"

// Have reports whether Chromium is installed. Without it, it fails the test under CI and
// otherwise logs loudly that the browser part is left out, so that a caller can go on without it.
func Have(t testing.TB) bool {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err == nil {
		return true
	} else if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing under CI: install the chromium package (%v)", ChromiumPath, err)
	}
	t.Logf("\n*** LEFT OUT: the browser check needs %s (apt-get install chromium); under CI it fails instead.", ChromiumPath)
	return false
}

// Require skips the test, loudly, when Chromium is missing, and fails it under CI.
func Require(t testing.TB) {
	t.Helper()
	if !Have(t) {
		t.Skipf("\n*** SKIPPED: %s is missing (apt-get install chromium); under CI this fails instead.", ChromiumPath)
	}
}

// Start starts a headless Chromium for the test, with options added to the usual ones (for
// example a window size, or host-resolver-rules), and returns the context of its first tab. The
// browser is already running: the context carries no timeout, which would bound the browser's
// life, so each step should take one of its own. The browser closes when the test ends. Call
// Require or Have first.
func Start(t testing.TB, options ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	}, options...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// Screenshot takes a full-page screenshot (JPEG) of the page ctx shows and saves it, named after
// prefix and the test, under the test's temp dir and in $GRADEBOOK_ARTIFACTS when that is set,
// so that a CI run can keep it.
func Screenshot(t testing.TB, ctx context.Context, prefix string) []byte {
	t.Helper()
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	name := prefix + "-" + regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-") + ".jpg"
	for _, dir := range []string{t.TempDir(), os.Getenv("GRADEBOOK_ARTIFACTS")} {
		if dir == "" {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Errorf("artifacts folder: %v", err)
			continue
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, shot, 0o644); err != nil {
			t.Errorf("save screenshot: %v", err)
		} else {
			t.Logf("screenshot: %s (%d bytes)", p, len(shot))
		}
	}
	return shot
}
