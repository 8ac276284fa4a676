package portal

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/boltstore"
	"github.com/gradebook/gradebook/pkg/config"
	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/portal/auth"
)

// The teachers of these tests, and the key their portals share.
const (
	teacher, teacherPassword = "frizzle", "magic school bus"
	colleague, colleaguePass = "ms-ruhle", "chalk and talk"
	testToken                = "machine-token"
)

var (
	sharedKey  = []byte("portal-session-key-shared-by-every-instance-0123456789")
	foreignKey = []byte("some-other-deployment-s-session-key-0123456789abcdef")
)

// testUsers is a users file of two teachers, hashed at bcrypt's least cost to keep tests quick.
func testUsers(t testing.TB) *auth.Users {
	t.Helper()
	var file strings.Builder
	for _, u := range [][2]string{{teacher, teacherPassword}, {colleague, colleaguePass}} {
		h, err := bcrypt.GenerateFromPassword([]byte(u[1]), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		file.WriteString(u[0] + ":" + string(h) + "\n")
	}
	users, err := auth.ParseUsers(strings.NewReader(file.String()))
	if err != nil {
		t.Fatal(err)
	}
	return users
}

// clock is a settable time for sessions and sign-in limits.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// signInPortal is one portal instance in process, with sign-in, over a grading store that
// every instance of a test shares.
type signInPortal struct {
	h     http.Handler
	store grading.Store
	clock *clock
}

// newSignInStore is a grading store with the demo students.
func newSignInStore(t *testing.T) grading.Store {
	t.Helper()
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "grading.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if _, err := grading.SeedDemo(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	return store
}

// newSignInPortal is a portal instance over store whose sessions are sealed with key.
func newSignInPortal(t *testing.T, store grading.Store, c *clock, key []byte) *signInPortal {
	t.Helper()
	sealer, err := auth.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	r := httpx.NewRouter()
	d := Deps{
		Grading: grading.MakeServerEndpoints(grading.NewService(store)),
		SignIn:  &SignIn{Users: testUsers(t), Sealer: sealer, TTL: time.Hour, Token: testToken, Now: c.Now, MaxFailures: 3, FailureWindow: time.Minute},
	}
	if err := AddRoutes(r, d); err != nil {
		t.Fatal(err)
	}
	return &signInPortal{h: httpx.WithRequestIDs(r), store: store, clock: c}
}

func newClock() *clock { return &clock{now: time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)} }

// request is one request to a portal: from addr, with a session cookie when cookie is set.
type request struct {
	method, path, body string
	cookie             string
	addr               string
	header             []string
}

func (p *signInPortal) do(t *testing.T, r request) *http.Response {
	t.Helper()
	req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	if r.body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if strings.HasPrefix(r.body, "{") {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if r.cookie != "" {
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: r.cookie})
	}
	if r.addr != "" {
		req.RemoteAddr = r.addr + ":40000"
	}
	for i := 0; i+1 < len(r.header); i += 2 {
		req.Header.Set(r.header[i], r.header[i+1])
	}
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// sessionCookie is the session cookie resp sets, or nil.
func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			return c
		}
	}
	return nil
}

// signIn signs user in from addr and returns the session cookie's value.
func (p *signInPortal) signIn(t *testing.T, user, password, addr string) string {
	t.Helper()
	resp := p.do(t, request{method: "POST", path: "/login", addr: addr, body: url.Values{"username": {user}, "password": {password}}.Encode()})
	c := sessionCookie(resp)
	if resp.StatusCode != http.StatusSeeOther || c == nil || c.Value == "" {
		t.Fatalf("sign in as %s: %d, cookie %v; want 303 and a session", user, resp.StatusCode, c)
	}
	return c.Value
}

func (p *signInPortal) grades(t *testing.T, id int) []grading.Grade {
	t.Helper()
	st, err := p.store.GetStudent(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return st.Grades
}

func gradeFormBody(title string) string {
	return url.Values{"title": {title}, "type": {"Quiz"}, "score": {"88"}}.Encode()
}

// TestNoSessionNoGrade: a form posted without a session (any local process, a script) is sent
// to the sign-in page and records nothing; the pages themselves ask for sign-in too.
func TestNoSessionNoGrade(t *testing.T) {
	p := newSignInPortal(t, newSignInStore(t), newClock(), sharedKey)
	before := len(p.grades(t, 1))
	resp := p.do(t, request{method: "POST", path: "/students/1/grades", body: gradeFormBody("Sneaky quiz")})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Fstudents%2F1" {
		t.Errorf("form post without a session: %d to %q; want 303 to /login?next=%%2Fstudents%%2F1", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := len(p.grades(t, 1)); got != before {
		t.Fatalf("a grade was stored without a session: %d grades, had %d", got, before)
	}
	resp = p.do(t, request{method: "POST", path: "/students", body: "firstName=Eve&lastName=Intruder"})
	all, _ := p.store.ListStudents(context.Background())
	if resp.StatusCode != http.StatusSeeOther || len(all) != 5 {
		t.Errorf("add student without a session: %d, %d students; want 303 and the 5 demo students", resp.StatusCode, len(all))
	}
	for _, path := range []string{"/", "/students", "/students/1", "/status"} {
		resp := p.do(t, request{method: "GET", path: path})
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=") {
			t.Errorf("GET %s without a session: %d to %q; want 303 to /login", path, resp.StatusCode, loc)
		}
	}
	// The sign-in page and the stylesheet need no session.
	if resp := p.do(t, request{method: "GET", path: "/login?next=%2Fstudents%2F1"}); resp.StatusCode != 200 || !strings.Contains(body(t, resp), `name="next" value="/students/1"`) {
		t.Errorf("GET /login = %d; want the form, carrying next", resp.StatusCode)
	}
	if resp := p.do(t, request{method: "GET", path: "/static/style.css"}); resp.StatusCode != 200 {
		t.Errorf("GET /static/style.css = %d", resp.StatusCode)
	}
}

// TestSignInRecordsWhoEntered: a teacher signs in, lands on the page asked for, records a grade
// and sees their name beside it; the cookie is HttpOnly and SameSite=Lax.
func TestSignInRecordsWhoEntered(t *testing.T) {
	p := newSignInPortal(t, newSignInStore(t), newClock(), sharedKey)
	resp := p.do(t, request{method: "POST", path: "/login", body: url.Values{"username": {teacher}, "password": {teacherPassword}, "next": {"/students/2"}}.Encode()})
	c := sessionCookie(resp)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/students/2" || c == nil {
		t.Fatalf("sign in = %d to %q, cookie %v; want 303 to /students/2 with a session", resp.StatusCode, resp.Header.Get("Location"), c)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.Path != "/" || c.MaxAge != 3600 {
		t.Errorf("cookie %+v; want HttpOnly, SameSite=Lax, not Secure over plain HTTP, Path=/, Max-Age 3600", c)
	}
	if strings.Contains(c.Value, teacher) {
		t.Errorf("the cookie shows the user's name: %q", c.Value)
	}
	page := body(t, p.do(t, request{method: "GET", path: "/students/2", cookie: c.Value}))
	if !strings.Contains(page, "Signed in as "+teacher) || strings.Contains(page, "open-banner") {
		t.Errorf("the page does not say who is signed in, or calls itself open:\n%s", page)
	}
	resp = p.do(t, request{method: "POST", path: "/students/2/grades", cookie: c.Value, body: gradeFormBody("Field trip")})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("grade form with a session = %d", resp.StatusCode)
	}
	gs := p.grades(t, 2)
	last := gs[len(gs)-1]
	if last.Title != "Field trip" || last.EnteredBy != teacher || last.EnteredAt.IsZero() {
		t.Fatalf("stored %+v; want Field trip entered by %s at some time", last, teacher)
	}
	page = body(t, p.do(t, request{method: "GET", path: "/students/2", cookie: c.Value}))
	if !strings.Contains(page, "entered by "+teacher) {
		t.Errorf("the student page does not show who entered the grade")
	}
}

// TestSecureCookieOnlyOverTLS: the cookie is Secure when the connection is TLS, and a client's
// X-Forwarded-Proto does not make it so (nor does its absence make a TLS cookie plain).
func TestSecureCookieOnlyOverTLS(t *testing.T) {
	p := newSignInPortal(t, newSignInStore(t), newClock(), sharedKey)
	form := url.Values{"username": {teacher}, "password": {teacherPassword}}.Encode()
	req := httptest.NewRequest("POST", "/login", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.TLS = &tls.ConnectionState{}
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, req)
	if c := sessionCookie(rec.Result()); c == nil || !c.Secure {
		t.Errorf("over TLS: cookie %+v; want Secure", c)
	}
	resp := p.do(t, request{method: "POST", path: "/login", body: form, header: []string{"X-Forwarded-Proto", "https"}})
	if c := sessionCookie(resp); c == nil || c.Secure {
		t.Errorf("plain HTTP claiming https: cookie %+v; want not Secure (only the connection is trusted)", c)
	}
}

// TestWrongPasswordNoSession: a wrong password, or a name that is no one's, shows the same
// error and sets no cookie.
func TestWrongPasswordNoSession(t *testing.T) {
	p := newSignInPortal(t, newSignInStore(t), newClock(), sharedKey)
	for _, c := range []struct{ user, password string }{{teacher, "wrong"}, {teacher, ""}, {"nobody", teacherPassword}, {"", ""}, {teacher, teacherPassword + " "}} {
		resp := p.do(t, request{method: "POST", path: "/login", addr: "10.0.0." + strconv.Itoa(len(c.password)), body: url.Values{"username": {c.user}, "password": {c.password}}.Encode()})
		b := body(t, resp)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(b, "The name or the password is not right.") || sessionCookie(resp) != nil {
			t.Errorf("sign in as %q/%q: %d, cookie %v; want 401, the error shown and no cookie", c.user, c.password, resp.StatusCode, sessionCookie(resp))
		}
		if strings.Contains(b, c.password) && c.password != "" {
			t.Errorf("the error page shows the password tried")
		}
	}
}

// TestForgedCookies: a tampered cookie, one sealed by another deployment's key, an expired one,
// and one that was never sealed all leave the visitor signed out.
func TestForgedCookies(t *testing.T) {
	c := newClock()
	store := newSignInStore(t)
	p := newSignInPortal(t, store, c, sharedKey)
	good := p.signIn(t, teacher, teacherPassword, "")
	foreign := newSignInPortal(t, store, c, foreignKey).signIn(t, teacher, teacherPassword, "")
	tampered := []byte(good)
	if tampered[20] == 'A' {
		tampered[20] = 'B'
	} else {
		tampered[20] = 'A'
	}
	for name, cookie := range map[string]string{
		"tampered":                 string(tampered),
		"another deployment's":     foreign,
		"made up":                  "eyJ1IjoiZnJpenpsZSJ9",
		"a session ID, not a seal": "1971587cd4f73fe8b5dfa4d38d0471d7",
	} {
		resp := p.do(t, request{method: "POST", path: "/students/1/grades", cookie: cookie, body: gradeFormBody("Forged")})
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			t.Errorf("%s cookie: %d to %q; want 303 to /login", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	for _, g := range p.grades(t, 1) {
		if g.Title == "Forged" {
			t.Fatal("a forged cookie recorded a grade")
		}
	}
	if resp := p.do(t, request{method: "GET", path: "/students", cookie: good}); resp.StatusCode != 200 {
		t.Fatalf("the good cookie: %d", resp.StatusCode)
	}
	c.advance(time.Hour)
	if resp := p.do(t, request{method: "GET", path: "/students", cookie: good}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("an expired session: %d; want 303 to /login", resp.StatusCode)
	}
}

// TestSignInRateLimited: guessing one teacher's password from many addresses, or many names
// from one address, is stopped after 3 failures (this portal's limit) with a clear 429, even
// for the right password; other teachers and other addresses go on; the window passes.
func TestSignInRateLimited(t *testing.T) {
	c := newClock()
	p := newSignInPortal(t, newSignInStore(t), c, sharedKey)
	try := func(user, password, addr string) *http.Response {
		return p.do(t, request{method: "POST", path: "/login", addr: addr, body: url.Values{"username": {user}, "password": {password}}.Encode()})
	}
	for i := range 3 {
		if resp := try(teacher, "guess"+strconv.Itoa(i), "10.1.0."+strconv.Itoa(i)); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d; want 401", i, resp.StatusCode)
		}
	}
	resp := try(teacher, teacherPassword, "10.1.0.99")
	b := body(t, resp)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(b, "Too many failed sign-ins; try again in 60 s.") || resp.Header.Get("Retry-After") != "60" || sessionCookie(resp) != nil {
		t.Errorf("after 3 failures for %s: %d, Retry-After %q, cookie %v; want 429 saying to wait 60 s, no session", teacher, resp.StatusCode, resp.Header.Get("Retry-After"), sessionCookie(resp))
	}
	if resp := try(colleague, colleaguePass, "10.1.0.99"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("another teacher while %s is blocked: %d; want 303", teacher, resp.StatusCode)
	}

	for i := range 3 {
		try("name"+strconv.Itoa(i), "x", "10.2.0.1")
	}
	if resp := try(colleague, colleaguePass, "10.2.0.1"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("after 3 failures from one address: %d; want 429", resp.StatusCode)
	}
	if resp := try(colleague, colleaguePass, "10.2.0.2"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("from another address: %d; want 303", resp.StatusCode)
	}

	c.advance(time.Minute)
	if resp := try(teacher, teacherPassword, "10.2.0.1"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after the window: %d; want 303", resp.StatusCode)
	}
}

// TestNoOpenRedirect: the page to go to after signing in is always on this site.
func TestNoOpenRedirect(t *testing.T) {
	p := newSignInPortal(t, newSignInStore(t), newClock(), sharedKey)
	for next, want := range map[string]string{
		"/students/2?added=grade":  "/students/2?added=grade",
		"//evil.example/":          "/students",
		"https://evil.example/":    "/students",
		"/\\evil.example":          "/students",
		"\\\\evil.example":         "/students",
		"javascript:alert(1)":      "/students",
		"evil.example":             "/students",
		"/\t/evil.example":         "/students",
		"http:evil.example":        "/students",
		"":                         "/students",
		"/login":                   "/students",
		"/students\r\nSet-Cookie:": "/students",
	} {
		resp := p.do(t, request{method: "POST", path: "/login", body: url.Values{"username": {teacher}, "password": {teacherPassword}, "next": {next}}.Encode()})
		if got := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || got != want {
			t.Errorf("next=%q: %d to %q; want 303 to %q", next, resp.StatusCode, got, want)
		}
	}
}

// TestSessionAcrossInstances: two portal instances that share the key file serve one session:
// signed in on one, a teacher records grades through the other.
func TestSessionAcrossInstances(t *testing.T) {
	c, store := newClock(), newSignInStore(t)
	a, b := newSignInPortal(t, store, c, sharedKey), newSignInPortal(t, store, c, sharedKey)
	cookie := a.signIn(t, teacher, teacherPassword, "")
	resp := b.do(t, request{method: "POST", path: "/students/3/grades", cookie: cookie, body: gradeFormBody("Across")})
	gs := b.grades(t, 3)
	if resp.StatusCode != http.StatusSeeOther || gs[len(gs)-1].Title != "Across" || gs[len(gs)-1].EnteredBy != teacher {
		t.Fatalf("grade through the other instance: %d, last grade %+v", resp.StatusCode, gs[len(gs)-1])
	}
}

// TestSignOutEndsTheSession: after signing out, the old cookie (kept by an attacker, say) no
// longer opens the pages or records grades on that instance; other sessions go on.
func TestSignOutEndsTheSession(t *testing.T) {
	p := newSignInPortal(t, newSignInStore(t), newClock(), sharedKey)
	cookie := p.signIn(t, teacher, teacherPassword, "")
	other := p.signIn(t, teacher, teacherPassword, "")
	resp := p.do(t, request{method: "POST", path: "/logout", cookie: cookie})
	if c := sessionCookie(resp); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" || c == nil || c.MaxAge >= 0 {
		t.Fatalf("sign out: %d to %q, cookie %+v; want 303 to /login clearing the cookie", resp.StatusCode, resp.Header.Get("Location"), c)
	}
	if resp := p.do(t, request{method: "GET", path: "/students", cookie: cookie}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the old cookie after sign-out: %d; want 303 to /login", resp.StatusCode)
	}
	if resp := p.do(t, request{method: "POST", path: "/api/v1/students", cookie: cookie, body: `{"firstName":"A","lastName":"B"}`}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the old cookie on the API after sign-out: %d; want 401", resp.StatusCode)
	}
	if resp := p.do(t, request{method: "GET", path: "/students", cookie: other}); resp.StatusCode != 200 {
		t.Errorf("another session of the same teacher after one signed out: %d; want 200", resp.StatusCode)
	}
	// Sign-out is a form like any other: another site cannot post it.
	resp = p.do(t, request{method: "POST", path: "/logout", cookie: other, header: []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site sign-out: %d; want 403", resp.StatusCode)
	}
}

// TestAPISessionOrToken: /api/v1 takes the bearer token (grades entered by "api") or a session
// (entered by the teacher, whatever the body claims), and answers anything else 401 in JSON.
func TestAPISessionOrToken(t *testing.T) {
	p := newSignInPortal(t, newSignInStore(t), newClock(), sharedKey)
	cookie := p.signIn(t, teacher, teacherPassword, "")
	claim := `{"title":"Claimed","type":"Quiz","score":50,"enteredBy":"mallory"}`
	for _, c := range []struct {
		name   string
		r      request
		status int
		by     string
	}{
		{"token", request{method: "POST", path: "/api/v1/students/4/grades", body: claim, header: []string{"Authorization", "Bearer " + testToken}}, 201, APIUser},
		{"session", request{method: "POST", path: "/api/v1/students/4/grades", body: claim, cookie: cookie}, 201, teacher},
		{"neither", request{method: "POST", path: "/api/v1/students/4/grades", body: claim}, 401, ""},
		{"wrong token", request{method: "POST", path: "/api/v1/students/4/grades", body: claim, header: []string{"Authorization", "Bearer guess"}}, 401, ""},
		{"wrong token beside a session", request{method: "POST", path: "/api/v1/students/4/grades", body: claim, cookie: cookie, header: []string{"Authorization", "Bearer guess"}}, 401, ""},
		{"read with neither", request{method: "GET", path: "/api/v1/students/4"}, 401, ""},
		{"read with a session", request{method: "GET", path: "/api/v1/students/4", cookie: cookie}, 200, ""},
		{"read with the token", request{method: "GET", path: "/api/v1/students", header: []string{"Authorization", "Bearer " + testToken}}, 200, ""},
	} {
		before := len(p.grades(t, 4))
		resp := p.do(t, c.r)
		b := body(t, resp)
		if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s %s; want %d JSON", c.name, resp.StatusCode, resp.Header.Get("Content-Type"), b, c.status)
			continue
		}
		gs := p.grades(t, 4)
		switch {
		case c.status == 401:
			var e struct{ Error string }
			if json.Unmarshal([]byte(b), &e) != nil || e.Error == "" || len(gs) != before {
				t.Errorf("%s: body %s, %d grades (had %d); want a JSON error and nothing stored", c.name, b, len(gs), before)
			}
		case c.by != "":
			if last := gs[len(gs)-1]; last.EnteredBy != c.by {
				t.Errorf("%s: grade entered by %q; want %q", c.name, last.EnteredBy, c.by)
			}
		}
	}
}

// TestOpenPortalSaysSo: without users every page works unsigned and carries the open banner.
func TestOpenPortalSaysSo(t *testing.T) {
	store := newSignInStore(t)
	r := httpx.NewRouter()
	if err := AddRoutes(r, Deps{Grading: grading.MakeServerEndpoints(grading.NewService(store))}); err != nil {
		t.Fatal(err)
	}
	p := &signInPortal{h: r, store: store}
	for _, path := range []string{"/students", "/students/1", "/status", "/nothing-here"} {
		resp := p.do(t, request{method: "GET", path: path})
		if b := body(t, resp); !strings.Contains(b, `id="open-banner"`) || strings.Contains(b, "Signed in as") {
			t.Errorf("GET %s (%d) lacks the open banner", path, resp.StatusCode)
		}
	}
	if resp := p.do(t, request{method: "GET", path: "/login"}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET /login on an open portal: %d; want 303 to the students", resp.StatusCode)
	}
}

// TestRunRefusesOpenOnTheNetwork: a portal without -users will not listen where other machines
// reach it unless -open says so; -users needs a session key, and each file must be sound.
func TestRunRefusesOpenOnTheNetwork(t *testing.T) {
	dir := t.TempDir()
	usersFile, keyFile, badUsers := filepath.Join(dir, "users"), filepath.Join(dir, "key"), filepath.Join(dir, "bad")
	h, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	os.WriteFile(usersFile, []byte(teacher+":"+string(h)+"\n"), 0o600)
	os.WriteFile(badUsers, []byte("# ok\n"+teacher+":plain\n"), 0o600)
	apiUsers := filepath.Join(dir, "api-users")
	os.WriteFile(apiUsers, []byte(APIUser+":"+string(h)+"\n"), 0o600)
	if err := auth.NewKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-listen", "0.0.0.0:0"}, "without -users anyone who reaches the portal can see and change grades"},
		{[]string{"-listen", ":0"}, "-open"},
		{[]string{"-listen", "192.0.2.1:0"}, "-users FILE"},
		{[]string{"-users", usersFile}, "-users needs -session-key-file"},
		{[]string{"-users", badUsers, "-session-key-file", keyFile}, "line 2"},
		{[]string{"-users", apiUsers, "-session-key-file", keyFile}, `the name "api" is kept`},
		{[]string{"-users", usersFile, "-session-key-file", filepath.Join(dir, "missing")}, "session key file"},
		{[]string{"-users", usersFile, "-session-key-file", keyFile, "-session-ttl", "0s"}, "-session-ttl"},
	} {
		err := Run(context.Background(), c.args, nil, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Run(%q) = %v; want an error containing %q", c.args, err, c.want)
		}
	}
	for _, c := range []struct {
		listen, users, key string
		open               bool
	}{
		{"0.0.0.0:5000", "", "", true},
		{"0.0.0.0:5000", usersFile, keyFile, false},
		{"127.0.0.1:5000", "", "", false},
		{"localhost:5000", "", "", false},
		{"[::1]:5000", "", "", false},
	} {
		if _, err := loadSignIn(config.Common{Listen: c.listen}, c.users, c.key, DefaultSessionTTL, c.open); err != nil {
			t.Errorf("%+v: %v; want it allowed", c, err)
		}
	}
	// GRADEBOOK_USERS names the users file as -users does.
	err := Run(context.Background(), []string{"-listen", "127.0.0.1:0"}, func(k string) string {
		if k == "GRADEBOOK_USERS" {
			return usersFile
		}
		return ""
	}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "-users needs -session-key-file") {
		t.Errorf("GRADEBOOK_USERS without a key: %v; want the missing key named", err)
	}
}
