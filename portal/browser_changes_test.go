package portal

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/go-kit/kit/sd"

	"github.com/gradebook/gradebook/internal/browsertest"
)

// TestBrowserCorrectRemoveExport drives Debian's Chromium through a teacher's corrections: open a
// grade's edit form, correct the score and see the new average, then follow the link to the
// student's history and see the entry there; remove a grade after confirming on the page that
// asks; download the class as CSV and read its rows.
// The pages run no script, so all of it works as forms and links.
func TestBrowserCorrectRemoveExport(t *testing.T) {
	browsertest.Require(t)
	g := startGrading(t)
	p := newTestPortal(t, sd.FixedInstancer{g.addr()})
	ctx := browsertest.Start(t, chromedp.WindowSize(1200, 1000))
	step, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
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

	// Averill Simen: Quiz 1 85, Week 1 Homework 94, Quiz 2 82.
	do("open the student", chromedp.Navigate(p.URL+"/students/1"), chromedp.WaitVisible(chromedp.CSS("#grades")))
	do("correct Quiz 1 to 91",
		chromedp.Click(chromedp.CSS("#grade-1 summary")),
		chromedp.WaitVisible(chromedp.CSS("#edit-1-score")),
		chromedp.SetValue(chromedp.CSS("#edit-1-score"), "91"),
		chromedp.Click(chromedp.CSS(`#edit-1 button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".notice.ok")),
	)
	if got := text(".notice.ok"); !strings.Contains(got, "Grade corrected. The average is now 89.0.") {
		t.Fatalf("notice after correcting = %q", got)
	}
	if got := text("#average"); !strings.HasPrefix(got, "89.0") { // (91 + 94 + 82) / 3
		t.Fatalf("average after correcting = %q; want 89.0", got)
	}
	if got := text("#grade-1"); !strings.Contains(got, "91") {
		t.Fatalf("Quiz 1's row after correcting = %q", got)
	}
	do("follow the link to the history", chromedp.Click(chromedp.CSS("#history-link")), chromedp.WaitVisible(chromedp.CSS("#history")))
	if got := text("#history tr.corrected"); !strings.HasSuffix(strings.TrimSpace(got), "Quiz 1: score 85 → 91") {
		t.Fatalf("history after correcting = %q", got)
	}
	do("go back to the student", chromedp.Click(chromedp.CSS("#back-to-student")), chromedp.WaitVisible(chromedp.CSS("#grades")))

	do("ask to remove the homework",
		chromedp.Click(chromedp.CSS("#grade-2 form.remove-grade button")),
		chromedp.WaitVisible(chromedp.CSS("#confirm-remove")),
	)
	if got := text("h1"); got != "Remove this grade?" {
		t.Fatalf("confirmation heading = %q", got)
	}
	if got := text("#grade"); !strings.Contains(got, "Week 1 Homework") || !strings.Contains(got, "94") {
		t.Fatalf("the confirmation shows %q; want the homework", got)
	}
	do("confirm",
		chromedp.Click(chromedp.CSS(`#confirm-remove button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".notice.ok")),
	)
	if got := text(".notice.ok"); !strings.Contains(got, "Grade removed. The average is now 86.5.") { // (91 + 82) / 2
		t.Fatalf("notice after removing = %q", got)
	}
	if got := text("#grades"); strings.Contains(got, "Week 1 Homework") {
		t.Fatalf("the removed grade is still listed: %q", got)
	}
	do("follow the link to the history again", chromedp.Click(chromedp.CSS("#history-link")), chromedp.WaitVisible(chromedp.CSS("#history")))
	if got := text("#history"); !strings.Contains(got, "Week 1 Homework (Homework, 94) removed") {
		t.Fatalf("history after removing = %q", got)
	}
	browsertest.Screenshot(t, step, "portal-corrections")

	dir := t.TempDir()
	progress := chromedp.Events(step, browser.DownloadProgress)
	do("download the class as CSV",
		chromedp.Navigate(p.URL+"/students"),
		chromedp.WaitVisible(chromedp.CSS("#export-csv")),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: new(true),
			})
			return err
		}),
		chromedp.Click(chromedp.CSS("#export-csv")),
	)
	var file string
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("waiting for the download: %v", err)
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatal("the download was canceled")
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			file = filepath.Join(dir, ev.GUID)
			break
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatalf("the download is not CSV: %v\n%s", err, b)
	}
	if !slices.Equal(rows[0], csvHeader) || len(rows) != 1+2+4*3 {
		t.Fatalf("downloaded %d rows under %v; want 15 under %v:\n%s", len(rows), rows[0], csvHeader, b)
	}
	col := func(name string) int { return slices.Index(csvHeader, name) }
	var averill [][]string
	for _, r := range rows[1:] {
		if r[col("student_id")] == "1" {
			averill = append(averill, []string{r[col("title")], r[col("score")], r[col("student_average")]})
		}
	}
	want := [][]string{{"Quiz 1", "91", "86.50"}, {"Quiz 2", "82", "86.50"}}
	if !slices.EqualFunc(averill, want, slices.Equal[[]string]) {
		t.Fatalf("Averill's rows = %q; want %q", averill, want)
	}
}
