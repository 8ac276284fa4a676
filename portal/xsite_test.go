package portal

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/internal/testkit"
)

// xsitePortal is the real portal runtime (every guard in pkg/service plus the portal's own) over
// a real grading instance, with a way to count what grading has stored.
type xsitePortal struct {
	*servedPortal
	grading *gradingInstance
}

func startXsitePortal(t *testing.T, args []string, getenv func(string) string) *xsitePortal {
	t.Helper()
	g := startGrading(t)
	reg := fakeRegistryServer(t)
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	rt, err := newRuntime(append([]string{"-listen", "127.0.0.1:0", "-registry", reg.URL, "-log-level", "error"}, args...),
		getenv, io.Discard, sd.FixedInstancer{g.addr()})
	if err != nil {
		t.Fatal(err)
	}
	p := &xsitePortal{servedPortal: servePortal(t, rt), grading: g}
	t.Cleanup(func() {
		if err := p.stop(t); err != nil {
			t.Errorf("Serve = %v", err)
		}
	})
	testkit.Eventually(t, 5*time.Second, "the portal reaches grading", func() bool {
		code, _ := p.get("/api/v1/students/1")
		return code == http.StatusOK
	})
	return p
}

// grades is how many grades grading holds for student 1, asked of grading itself.
func (p *xsitePortal) grades(t *testing.T) int {
	t.Helper()
	resp, err := http.Get(p.grading.srv.URL + "/students/1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s grading.Student
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return len(s.Grades)
}

// send makes one request to the portal with the given Host (empty: the address dialled), and
// answers its status and body.
func (p *xsitePortal) send(t *testing.T, method, path, host, contentType, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const (
	jsonType   = "application/json"
	attackForm = "title=Injected&type=Quiz&score=100"
	attackJSON = `{"title":"Injected","type":"Quiz","score":100}`
)

// Attacks a page on another site (or a rebound name) could make a teacher's browser send: each is
// refused with the status that says why, and grading stores nothing.
func TestPortalRefusesCrossSiteWrites(t *testing.T) {
	p := startXsitePortal(t, []string{"-advertise", "portal.internal:5000"}, nil)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(p.base, "http://"))
	for _, tc := range []struct {
		name, path, host, contentType, body string
		header                              []string
		want                                int
		says                                string
	}{
		{name: "simple cross-site fetch to the API: text/plain carrying JSON", path: "/api/v1/students/1/grades",
			contentType: "text/plain", body: attackJSON, want: 415, says: `"error":"the Content-Type \"text/plain\" is not accepted here: send Content-Type: application/json"`},
		{name: "API write without a Content-Type", path: "/api/v1/students/1/grades", body: attackJSON, want: 415, says: "application/json"},
		{name: "form posted to the API", path: "/api/v1/students/1/grades", contentType: formType, body: attackForm, want: 415, says: "application/json"},
		{name: "cross-site form post", path: "/students/1/grades", contentType: formType, body: attackForm,
			header: []string{"Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example"}, want: 403, says: "Form refused"},
		{name: "cross-site JSON fetch to the API (as after a CORS preflight)", path: "/api/v1/students/1/grades", contentType: jsonType, body: attackJSON,
			header: []string{"Sec-Fetch-Site", "cross-site"}, want: 403, says: `"error":"cross-origin requests that change data are refused"`},
		{name: "foreign Origin, no Sec-Fetch-Site", path: "/api/v1/students/1/grades", contentType: jsonType, body: attackJSON,
			header: []string{"Origin", "http://evil.example"}, want: 403, says: `"error"`},
		{name: "DNS rebinding: form post from evil.example rebound to the portal", path: "/students/1/grades", host: "evil.example:" + port,
			contentType: formType, body: attackForm, header: []string{"Origin", "http://evil.example:" + port, "Sec-Fetch-Site", "same-origin"},
			want: 421, says: `does not answer to the host name \"evil.example:` + port},
		{name: "DNS rebinding on the default port", path: "/students/1/grades", host: "evil.example",
			contentType: formType, body: attackForm, header: []string{"Origin", "http://evil.example"}, want: 421, says: "evil.example"},
		{name: "DNS rebinding to the API", path: "/api/v1/students/1/grades", host: "evil.example:" + port,
			contentType: jsonType, body: attackJSON, header: []string{"Sec-Fetch-Site", "same-origin"}, want: 421, says: `"error"`},
		{name: "rebound name that ends like an allowed one", path: "/students/1/grades", host: "portal.internal.evil.example",
			contentType: formType, body: attackForm, want: 421, says: "portal.internal.evil.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := p.grades(t)
			code, body := p.send(t, http.MethodPost, tc.path, tc.host, tc.contentType, tc.body, tc.header...)
			if code != tc.want || !strings.Contains(body, tc.says) {
				t.Errorf("status %d, want %d with %q:\n%s", code, tc.want, tc.says, body)
			}
			if after := p.grades(t); after != before {
				t.Errorf("grading stored %d grades", after-before)
			}
		})
	}

	// Reading a page through a rebound name is refused too: its answer is what the attacker
	// wanted to read.
	if code, body := p.send(t, http.MethodGet, "/students/1", "evil.example:"+port, "", ""); code != http.StatusMisdirectedRequest || strings.Contains(body, "Averill") {
		t.Errorf("GET through a rebound name = %d\n%s", code, body)
	}
}

// What a teacher, a script and the registry do still works: the portal's own names (loopback
// with any port, as behind a published container port; the advertised name, as the registry's
// health checks use it), same-origin form posts, and JSON with a charset.
func TestPortalAllowsItsOwnWrites(t *testing.T) {
	p := startXsitePortal(t, []string{"-listen", "127.0.0.1:0", "-advertise", "portal:5000"},
		func(k string) string {
			return map[string]string{"GRADEBOOK_ALLOWED_HOSTS": "grades.school.example, .intra.example"}[k]
		})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(p.base, "http://"))
	for _, tc := range []struct {
		name, method, path, host, contentType, body string
		header                                      []string
		want                                        int
	}{
		{"same-origin form post", http.MethodPost, "/students/1/grades", "", formType, attackForm,
			[]string{"Sec-Fetch-Site", "same-origin", "Origin", p.base}, http.StatusSeeOther},
		{"form post from a browser that sends only Origin", http.MethodPost, "/students/1/grades", "", formType, attackForm,
			[]string{"Origin", p.base}, http.StatusSeeOther},
		{"script with JSON and a charset", http.MethodPost, "/api/v1/students/1/grades", "", "application/json; charset=utf-8", attackJSON, nil, http.StatusCreated},
		{"localhost on a published port", http.MethodPost, "/students/1/grades", "localhost:15000", formType, attackForm,
			[]string{"Origin", "http://localhost:15000"}, http.StatusSeeOther},
		{"loopback address on a published port", http.MethodGet, "/students", "127.0.0.1:15000", "", "", nil, http.StatusOK},
		{"IPv6 loopback", http.MethodGet, "/students", "[::1]:" + port, "", "", nil, http.StatusOK},
		{"the registry's health check, by the advertised name", http.MethodGet, "/health", "portal:5000", "", "", nil, http.StatusOK},
		{"the advertised name on another port", http.MethodGet, "/students", "portal:15000", "", "", nil, http.StatusOK},
		{"a name from GRADEBOOK_ALLOWED_HOSTS", http.MethodPost, "/students/1/grades", "grades.school.example", formType, attackForm,
			[]string{"Origin", "https://grades.school.example", "Sec-Fetch-Site", "same-origin"}, http.StatusSeeOther},
		{"a name under an allowed domain", http.MethodGet, "/students", "portal-2.intra.example:5000", "", "", nil, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := p.grades(t)
			code, body := p.send(t, tc.method, tc.path, tc.host, tc.contentType, tc.body, tc.header...)
			if code != tc.want {
				t.Fatalf("status %d, want %d\n%s", code, tc.want, body)
			}
			if wrote := tc.method == http.MethodPost; wrote && p.grades(t) != before+1 {
				t.Errorf("grading has %d grades, want %d", p.grades(t), before+1)
			}
		})
	}
}

func TestAllowedHostsFlag(t *testing.T) {
	var stderr strings.Builder
	_, err := newRuntime([]string{"-listen", "127.0.0.1:0", "-allowed-hosts", "ok.example,http://bad.example"}, nil, &stderr, sd.FixedInstancer{})
	if err == nil || !strings.Contains(err.Error(), "-allowed-hosts") || !strings.Contains(err.Error(), "http://bad.example") {
		t.Fatalf("newRuntime = %v; want an error naming -allowed-hosts and the bad entry", err)
	}
	// An advertised host that is no DNS name is not the allowed hosts' business.
	rt, err := newRuntime([]string{"-listen", "127.0.0.1:0", "-registry", "http://127.0.0.1:1", "-advertise", "not a name:5000"}, nil, io.Discard, sd.FixedInstancer{})
	if err != nil {
		t.Errorf("newRuntime with an odd -advertise = %v", err)
	} else if err := rt.Close(); err != nil {
		t.Error(err)
	}
	Run(t.Context(), []string{"-h"}, nil, &stderr)
	if !strings.Contains(stderr.String(), "-allowed-hosts") {
		t.Errorf("usage lacks -allowed-hosts:\n%s", stderr.String())
	}
}
