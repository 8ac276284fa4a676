package portal

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"golang.org/x/crypto/bcrypt"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/portal/auth"
)

// TestSessionAcrossRunningPortals runs two real portal runtimes from the same -users and
// -session-key-file over one grading instance: a teacher signed in on one records a grade
// through the other, and signing out there ends the session there.
func TestSessionAcrossRunningPortals(t *testing.T) {
	g := startGrading(t)
	reg := fakeRegistryServer(t)
	dir := t.TempDir()
	usersFile, keyFile := filepath.Join(dir, "users"), filepath.Join(dir, "session.key")
	h, err := bcrypt.GenerateFromPassword([]byte(teacherPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(usersFile, []byte("# teachers\n"+teacher+":"+string(h)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := auth.NewKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	start := func() *servedPortal {
		rt, err := newRuntime([]string{"-listen", "127.0.0.1:0", "-registry", reg.URL, "-log-level", "warn",
			"-users", usersFile, "-session-key-file", keyFile, "-token", testToken},
			func(string) string { return "" }, &syncWriter{w: &bytes.Buffer{}}, sd.FixedInstancer{g.addr()})
		if err != nil {
			t.Fatal(err)
		}
		p := servePortal(t, rt)
		t.Cleanup(func() {
			if err := p.stop(t); err != nil {
				t.Errorf("portal stopped with %v", err)
			}
		})
		testkit.Eventually(t, 10*time.Second, "the portal serves grading", func() bool {
			req, _ := http.NewRequest("GET", p.base+"/api/v1/students/1", nil)
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp, err := p.client.Do(req)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})
		return p
	}
	a, b := start(), start()
	send := func(p *servedPortal, method, path, cookie, form string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, p.base+path, strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		if form != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: SessionCookie, Value: cookie})
		}
		resp, err := p.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}

	if resp, _ := send(b, "POST", "/students/1/grades", "", gradeFormBody("Unsigned")); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Fatalf("form without a session: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ := send(a, "POST", "/login", "", url.Values{"username": {teacher}, "password": {teacherPassword}, "next": {"/students/1"}}.Encode())
	c := sessionCookie(resp)
	if resp.StatusCode != http.StatusSeeOther || c == nil {
		t.Fatalf("sign in on the first portal: %d, cookie %v", resp.StatusCode, c)
	}
	if resp, _ := send(b, "POST", "/students/1/grades", c.Value, gradeFormBody("Across instances")); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/students/1?added=grade" {
		t.Fatalf("grade through the second portal: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, page := send(b, "GET", "/students/1", c.Value, ""); !strings.Contains(page, "Across instances") || !strings.Contains(page, "entered by "+teacher) {
		t.Errorf("the second portal's page lacks the grade entered by %s", teacher)
	}
	if resp, _ := send(b, "POST", "/logout", c.Value, ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: %d", resp.StatusCode)
	}
	if resp, _ := send(b, "GET", "/students/1", c.Value, ""); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the old cookie on the portal that signed it out: %d; want 303 to /login", resp.StatusCode)
	}
}

// TestDemoSignInFiles: the demo users file and session key that compose mounts load, and the
// documented demo password signs in.
func TestDemoSignInFiles(t *testing.T) {
	users, err := auth.LoadUsers(filepath.Join("..", "deploy", "demo", "users.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !users.Check("demo", "gradebook-demo") {
		t.Error(`the demo account "demo" does not take the documented password "gradebook-demo"`)
	}
	if _, err := auth.LoadKeyFile(filepath.Join("..", "deploy", "demo", "session.key")); err != nil {
		t.Error(err)
	}
}
