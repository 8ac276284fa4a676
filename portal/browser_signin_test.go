package portal

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/go-kit/kit/sd"

	"github.com/gradebook/gradebook/internal/browsertest"
	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/portal/auth"
)

// TestBrowserSignIn drives sign-in in Debian's Chromium: a page asks for sign-in, a wrong
// password shows the error and sets no session, the right one comes back to the page asked
// for, a grade recorded there shows "entered by" the teacher, and after signing out the page
// asks for sign-in again.
func TestBrowserSignIn(t *testing.T) {
	browsertest.Require(t)
	g := startGrading(t)
	sealer, err := auth.NewSealer(sharedKey)
	if err != nil {
		t.Fatal(err)
	}
	p := newTestPortal(t, sd.FixedInstancer{g.addr()}, func(d *Deps) {
		d.SignIn = &SignIn{Users: testUsers(t), Sealer: sealer, Token: testToken}
	})
	testkit.Eventually(t, 10*time.Second, "the portal serves grading", func() bool {
		return p.do(t, "GET", "/api/v1/students/1", "", "", "Authorization", "Bearer "+testToken).status == http.StatusOK
	})

	ctx := browsertest.Start(t,
		chromedp.WindowSize(1100, 900),
	)
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
	location := func() string {
		t.Helper()
		u, err := chromedp.Run(step, chromedp.Evaluate[string](`location.pathname + location.search`))
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	// session is the browser's session cookie for the portal, or nil; it is HttpOnly, so only
	// the browser itself, not the page's script, can tell.
	session := func() *network.Cookie {
		t.Helper()
		res, err := chromedp.Run(step, func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
			return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{p.URL}})
		})
		if err != nil {
			t.Fatalf("read the cookies: %v", err)
		}
		for _, c := range res.Cookies {
			if c.Name == SessionCookie {
				return c
			}
		}
		return nil
	}
	signIn := func(password string) {
		t.Helper()
		do("sign in",
			chromedp.SetValue(chromedp.CSS("#username"), teacher),
			chromedp.SetValue(chromedp.CSS("#password"), password),
			chromedp.Click(chromedp.CSS(`#signin button[type="submit"]`)),
		)
	}

	do("open a student's page", chromedp.Navigate(p.URL+"/students/1"), chromedp.WaitVisible(chromedp.CSS("#signin")))
	if got := location(); got != "/login?next=%2Fstudents%2F1" {
		t.Fatalf("a page without a session went to %q; want the sign-in page", got)
	}

	signIn("not the password")
	do("see the error", chromedp.WaitVisible(chromedp.CSS("#signin-error")))
	if got := text("#signin-error"); !strings.Contains(got, "The name or the password is not right.") {
		t.Fatalf("error shown = %q", got)
	}
	if c := session(); c != nil {
		t.Fatalf("a wrong password set a session cookie: %+v", c)
	}

	signIn(teacherPassword)
	do("come back to the student", chromedp.WaitVisible(chromedp.CSS("#add-grade")))
	if got := location(); got != "/students/1" {
		t.Fatalf("after signing in the browser is at %q; want /students/1", got)
	}
	if c := session(); c == nil || !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax {
		t.Fatalf("session cookie %+v; want one, HttpOnly and SameSite=Lax", c)
	}
	if got := text("#signed-in-as"); got != "Signed in as "+teacher {
		t.Errorf("the page says %q", got)
	}

	do("record a grade",
		chromedp.SetValue(chromedp.CSS("#title"), "Signed quiz"),
		chromedp.SetValue(chromedp.CSS("#score"), "91"),
		chromedp.Click(chromedp.CSS(`#add-grade button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(".notice.ok")),
	)
	if got := text("#grades tbody tr:last-child"); !strings.Contains(got, "Signed quiz") || !strings.Contains(got, "entered by "+teacher) {
		t.Fatalf("the new grade's row = %q; want it entered by %s", got, teacher)
	}

	do("sign out", chromedp.Click(chromedp.CSS("#sign-out")), chromedp.WaitVisible(chromedp.CSS("#signin")))
	if c := session(); c != nil {
		t.Errorf("the session cookie is still there after signing out: %+v", c)
	}
	do("open the student again", chromedp.Navigate(p.URL+"/students/1"), chromedp.WaitVisible(chromedp.CSS("#signin")))
	if got := location(); got != "/login?next=%2Fstudents%2F1" {
		t.Fatalf("after signing out the page went to %q; want the sign-in page", got)
	}
}
