package portal

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-kit/kit/sd"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/pkg/httpx"
)

// gradeCount is how many grades student id has, read through the API.
func gradeCount(t *testing.T, p *testPortal, id string) int {
	t.Helper()
	a := p.get(t, "/api/v1/students/"+id)
	var st grading.Student
	if a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &st) != nil {
		t.Fatalf("GET /api/v1/students/%s = %d %s", id, a.status, a.body)
	}
	return len(st.Grades)
}

// The grade form took "1_0" as 10 (strconv.ParseFloat reads Go's number syntax), and hex,
// exponents and signs too. It takes digits with at most one decimal point now, and says so.
func TestFormRefusesLenientScores(t *testing.T) {
	g := startGrading(t)
	p := newTestPortal(t, sd.FixedInstancer{g.addr()})
	before := gradeCount(t, p, "1")
	for _, score := range []string{"1_0", "0x10", "0x1p4", "1e1", "+5", "-0", "-5", "Inf", "NaN", ".5", "5.", "5,5", "٥"} {
		a := p.do(t, http.MethodPost, "/students/1/grades", formType, form("title", "Quiz 7", "type", "Quiz", "score", score))
		if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, "written with digits and at most one decimal point") {
			t.Errorf("score %q = %d; want 422 saying how to write a score\n%s", score, a.status, a.body)
		}
	}
	if got := gradeCount(t, p, "1"); got != before {
		t.Errorf("lenient scores recorded %d grades", got-before)
	}
	if a := p.do(t, http.MethodPost, "/students/1/grades", formType, form("title", "Quiz 7", "type", "Quiz", "score", "87.5")); a.status != http.StatusSeeOther {
		t.Errorf("score 87.5 = %d; want 303\n%s", a.status, a.body)
	}
}

// NUL and ESC were stored in titles through the API; the form refuses them too, from the
// domain's one rule, naming the field on the page.
func TestFormRefusesControlCharacters(t *testing.T) {
	g := startGrading(t)
	p := newTestPortal(t, sd.FixedInstancer{g.addr()})
	for _, title := range []string{"Quiz\x00", "\x1b[31mQuiz", "Qu\u0085iz"} {
		a := p.do(t, http.MethodPost, "/students/1/grades", formType, form("title", title, "type", "Quiz", "score", "5"))
		if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, "must not contain control characters") {
			t.Errorf("title %q = %d; want 422 naming control characters\n%s", title, a.status, a.body)
		}
	}
	a := p.do(t, http.MethodPost, "/students", formType, form("firstName", "Ann\x00", "lastName", "Lee"))
	if a.status != http.StatusUnprocessableEntity || !strings.Contains(a.body, "must not contain control characters") {
		t.Errorf("a first name with NUL = %d; want 422\n%s", a.status, a.body)
	}
}

// "/students/01" and "/students/+1" showed student 1; only "/students/1" does now, on the pages
// (the 404 page) and on /api/v1 (a JSON 404).
func TestPortalOnlyCanonicalStudentIDs(t *testing.T) {
	g := startGrading(t)
	p := newTestPortal(t, sd.FixedInstancer{g.addr()})
	before := gradeCount(t, p, "1")
	for _, id := range []string{"01", "+1", "1_0", "0x1", "1.0", "%201"} {
		if a := p.get(t, "/students/"+id); a.status != http.StatusNotFound || !strings.Contains(a.body, "Not found") {
			t.Errorf("GET /students/%s = %d; want the 404 page", id, a.status)
		}
		if a := p.do(t, http.MethodPost, "/students/"+id+"/grades", formType, form("title", "Q", "type", "Quiz", "score", "5")); a.status != http.StatusNotFound {
			t.Errorf("POST /students/%s/grades = %d; want 404", id, a.status)
		}
		a := p.get(t, "/api/v1/students/"+id)
		var eb httpx.ErrorBody
		if a.status != http.StatusNotFound || json.Unmarshal([]byte(a.body), &eb) != nil || eb.Error == "" {
			t.Errorf("GET /api/v1/students/%s = %d %s; want a JSON 404", id, a.status, a.body)
		}
	}
	if got := gradeCount(t, p, "1"); got != before {
		t.Errorf("grades were recorded through non-canonical IDs")
	}
}

// Unclean paths were redirected (301) to their cleaned form. They are a 404 now: the page on
// the portal's pages, JSON under /api/.
func TestPortalTraversalIs404NotRedirect(t *testing.T) {
	g := startGrading(t)
	p := newTestPortal(t, sd.FixedInstancer{g.addr()})
	for _, path := range []string{"/students/../students/1", "/students/1/..", "//students", "/static/../students", "/./status"} {
		if a := p.get(t, path); a.status != http.StatusNotFound || !strings.Contains(a.body, "Not found") || a.header.Get("Location") != "" {
			t.Errorf("GET %s = %d (Location %q); want the 404 page", path, a.status, a.header.Get("Location"))
		}
	}
	for _, path := range []string{"/api/v1/students/../students/1", "/api/v1//students", "/api/v1/students/%2e%2e"} {
		a := p.get(t, path)
		var eb httpx.ErrorBody
		if a.status != http.StatusNotFound || json.Unmarshal([]byte(a.body), &eb) != nil || eb.Error == "" {
			t.Errorf("GET %s = %d %q; want a JSON 404", path, a.status, a.body)
		}
	}
}

// A grading instance whose disk is full answers 503 "storage unavailable: disk full"; the
// portal shows its unavailable page, and /api/v1 answers a JSON 503, never a 500 or a 502.
func TestPortalShowsStorageUnavailableAsUnavailable(t *testing.T) {
	full := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.Error(w, http.StatusServiceUnavailable, "storage unavailable: disk full")
	}))
	t.Cleanup(full.Close)
	p := newTestPortalNoWait(t, sd.FixedInstancer{strings.TrimPrefix(full.URL, "http://")})
	a := p.do(t, http.MethodPost, "/students/1/grades", formType, form("title", "Quiz", "type", "Quiz", "score", "5"))
	if a.status != http.StatusServiceUnavailable || !strings.Contains(a.body, "unavailable") {
		t.Errorf("a grade while grading's disk is full = %d; want the 503 unavailable page\n%s", a.status, a.body)
	}
	a = p.do(t, http.MethodPost, "/api/v1/students/1/grades", "application/json", `{"title":"Quiz","type":"Quiz","score":5}`)
	var eb httpx.ErrorBody
	if a.status != http.StatusServiceUnavailable || json.Unmarshal([]byte(a.body), &eb) != nil || eb.Error == "" {
		t.Errorf("an API grade while grading's disk is full = %d %s; want a JSON 503", a.status, a.body)
	}
}
