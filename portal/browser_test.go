package portal

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/go-kit/kit/sd"

	"github.com/gradebook/gradebook/internal/browsertest"
)

// TestBrowser drives the portal in Debian's Chromium: a teacher opens the students, follows one,
// records a grade and sees it with the new average, gets an error for a bad score, and sees a
// hostile name as text with no script running.
func TestBrowser(t *testing.T) {
	browsertest.Require(t)
	g := startGrading(t)
	p := newTestPortal(t, sd.FixedInstancer{g.addr()})
	const evil = "<script>alert(1)</script>"
	if a := p.do(t, "POST", "/api/v1/students", "application/json", `{"firstName":"<script>alert(1)</script>","lastName":"Pupil"}`); a.status != 201 {
		t.Fatalf("add the hostile student = %d %s", a.status, a.body)
	}

	ctx := browsertest.Start(t,
		chromedp.WindowSize(1100, 900),
	)
	var dialogs atomic.Int32
	if err := chromedp.Listen(ctx, func(ev any) {
		if _, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			dialogs.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	step, cancelStep := context.WithTimeout(ctx, 60*time.Second)
	defer cancelStep()
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(step, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(step, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	do("open the students", chromedp.Navigate(p.URL+"/students"), chromedp.WaitVisible(chromedp.CSS("#students")))
	if got := text(`#students a[href="/students/1"]`); got != "Averill Simen" {
		t.Fatalf("first student link = %q", got)
	}
	do("follow a student", chromedp.Click(chromedp.CSS(`#students a[href="/students/1"]`)), chromedp.WaitVisible(chromedp.CSS("#add-grade")))
	if got := text("h1"); got != "Averill Simen" {
		t.Fatalf("student page heading = %q", got)
	}
	if got := text("#average"); !strings.HasPrefix(got, "87.0") {
		t.Fatalf("average before = %q; want 87.0", got)
	}

	do("add a grade",
		chromedp.SetValue(chromedp.CSS("#title"), "Quiz 3"),
		chromedp.SetValue(chromedp.CSS("#type"), "Test"),
		chromedp.SetValue(chromedp.CSS("#score"), "90"),
		chromedp.Click(chromedp.CSS(`#add-grade button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".notice.ok")),
	)
	if got := text("#grades"); !strings.Contains(got, "Quiz 3") || !strings.Contains(got, "90") {
		t.Fatalf("grades after posting = %q", got)
	}
	// (85 + 94 + 82 + 90) / 4 = 87.75
	if got := text("#average"); !strings.HasPrefix(got, "87.8") {
		t.Fatalf("average after = %q; want 87.8", got)
	}

	do("submit a bad score",
		chromedp.SetValue(chromedp.CSS("#title"), "Quiz 4"),
		chromedp.SetValue(chromedp.CSS("#score"), "150"),
		chromedp.Click(chromedp.CSS(`#add-grade button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".field.invalid .error")),
	)
	if got := text(".field.invalid .error"); !strings.Contains(got, "must be from 0 to 100") {
		t.Fatalf("error beside the score = %q", got)
	}
	if v, err := chromedp.Run(step, chromedp.Evaluate[string](`document.querySelector("#title").value`)); err != nil || v != "Quiz 4" {
		t.Fatalf("the title typed was not kept: %q, %v", v, err)
	}

	do("see the hostile name", chromedp.Navigate(p.URL+"/students"), chromedp.WaitVisible(chromedp.CSS("#students")))
	if got := text(`#students a[href="/students/6"]`); got != evil+" Pupil" {
		t.Fatalf("hostile name shows as %q; want the text %q", got, evil+" Pupil")
	}
	scripts, err := chromedp.Run(step, chromedp.Evaluate[int](`document.querySelectorAll("script").length`))
	if err != nil || scripts != 0 {
		t.Fatalf("the page has %d script elements (%v); want none", scripts, err)
	}
	if n := dialogs.Load(); n != 0 {
		t.Fatalf("%d JavaScript dialogs opened; the name ran as script", n)
	}

	shot, err := chromedp.Run(step, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(t.TempDir(), "portal-students.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("GRADEBOOK_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "portal-students.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(shot))
	if len(shot) <= 10<<10 {
		t.Fatalf("screenshot is %d bytes; a rendered page is well over 10 KB", len(shot))
	}
}
