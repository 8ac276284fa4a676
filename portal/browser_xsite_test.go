package portal

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gradebook/gradebook/internal/browsertest"
)

// TestBrowserCrossSiteAttacks drives Chromium the way a teacher's browser would be used against
// the portal by a page elsewhere, with evil.example resolving to this machine: a form on that page
// that posts a grade, a script that posts JSON as text/plain (a request that needs no preflight),
// and DNS rebinding (the attacker's name pointing at the portal's address). Each fails, grading
// stores nothing, and the teacher's own form still works.
func TestBrowserCrossSiteAttacks(t *testing.T) {
	browsertest.Require(t)
	p := startXsitePortal(t, nil, nil)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(p.base, "http://"))
	target := p.base + "/students/1/grades"
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/form":
			fmt.Fprintf(w, `<!doctype html><form id="f" method="post" action="%s">
<input name="title" value="Injected"><input name="type" value="Quiz"><input name="score" value="100"></form>
<script>document.getElementById("f").submit()</script>`, target)
		case "/fetch":
			fmt.Fprintf(w, `<!doctype html><p id="out">waiting</p><script>
fetch(%q, {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"},
  body: JSON.stringify({title: "Injected", type: "Quiz", score: 100})})
  .then(() => { document.getElementById("out").textContent = "sent" },
        e => { document.getElementById("out").textContent = "failed: " + e })
</script>`, p.base+"/api/v1/students/1/grades")
		}
	}))
	t.Cleanup(attacker.Close)
	_, attackerPort, _ := net.SplitHostPort(strings.TrimPrefix(attacker.URL, "http://"))
	evil := "http://evil.example:" + attackerPort

	ctx := browsertest.Start(t,
		// evil.example is this machine, as a rebinding attacker's DNS would make it.
		chromedp.Flag("host-resolver-rules", "MAP evil.example 127.0.0.1"),
	)
	step, cancelStep := context.WithTimeout(ctx, 60*time.Second)
	defer cancelStep()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(step, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	bodyText := func() string {
		t.Helper()
		s, err := chromedp.Run(step, chromedp.Text(chromedp.CSS("body")))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		return s
	}
	before := p.grades(t)

	do("a page elsewhere posts a grade form to the portal", chromedp.Navigate(evil+"/form"), chromedp.WaitVisible(chromedp.CSS("h1")))
	if got := bodyText(); !strings.Contains(got, "Form refused") {
		t.Errorf("after the cross-site form post the browser shows:\n%s", got)
	}

	do("a page elsewhere posts JSON as text/plain to the API", chromedp.Navigate(evil+"/fetch"),
		chromedp.Poll[chromedp.Void](`document.getElementById("out").textContent !== "waiting"`))
	if got := bodyText(); got != "sent" {
		t.Errorf("the script's request did not go out: %q", got)
	}

	do("the attacker's name, rebound to the portal", chromedp.Navigate("http://evil.example:"+port+"/students"), chromedp.WaitReady(chromedp.CSS("body")))
	if got := bodyText(); !strings.Contains(got, `does not answer to the host name`) || strings.Contains(got, "Averill") {
		t.Errorf("through the rebound name the browser shows:\n%s", got)
	}

	if after := p.grades(t); after != before {
		t.Fatalf("grading stored %d grades from the attacks", after-before)
	}

	do("the teacher records a grade on the portal itself",
		chromedp.Navigate(p.base+"/students/1"),
		chromedp.WaitVisible(chromedp.CSS("#add-grade")),
		chromedp.SetValue(chromedp.CSS("#title"), "Quiz 3"),
		chromedp.SetValue(chromedp.CSS("#type"), "Test"),
		chromedp.SetValue(chromedp.CSS("#score"), "90"),
		chromedp.Click(chromedp.CSS(`#add-grade button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".notice.ok")),
	)
	if after := p.grades(t); after != before+1 {
		t.Errorf("grading has %d new grades, want the teacher's 1", after-before)
	}
}
