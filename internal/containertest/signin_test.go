package containertest

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/testkit"
)

// The demo account of deploy/demo/users.txt, which the compose files mount for the portal.
const demoUser, demoPassword = "demo", "gradebook-demo"

// signInDemo gives c a cookie jar and, when the portal asks teachers to sign in (GET /login
// shows the form rather than sending an open portal's visitor on to the students), signs in as
// the demo account, as a teacher's browser would. The jar keeps the session for every portal on
// the same host: portals that share the session key accept each other's sessions.
func signInDemo(t *testing.T, c *http.Client, portal string) {
	t.Helper()
	if c.Jar == nil {
		jar, err := cookiejar.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Jar = jar
	}
	noFollow := *c
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	var form answer
	testkit.Until(t, 60*time.Second, func() string {
		a, err := try(&noFollow, portal+"/login")
		if err != nil {
			return err.Error()
		}
		form = a
		return ""
	})
	if form.status != http.StatusOK {
		return // an open portal: nothing to sign in to
	}
	req, err := http.NewRequest(http.MethodPost, portal+"/login",
		strings.NewReader(url.Values{"username": {demoUser}, "password": {demoPassword}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	a, err := send(&noFollow, req)
	if err != nil || a.status != http.StatusSeeOther {
		t.Fatalf("sign in as %s: %d, %v\n%s", demoUser, a.status, err, a.body)
	}
	u, _ := url.Parse(portal)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "gradebook_session" {
			return
		}
	}
	t.Fatalf("signing in as %s set no session cookie", demoUser)
}
