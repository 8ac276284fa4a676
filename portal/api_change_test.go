package portal

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/openapi"
	"github.com/gradebook/gradebook/openapi/openapitest"
	"github.com/gradebook/gradebook/portal/auth"
)

// apiChecker is the transport of every test portal's client: in tests (not benchmarks, where it
// would be measured too) it checks each exchange under /api/v1 against the portal's OpenAPI
// document, so that every API test validates what it sends and gets.
func apiChecker(t testing.TB, serverURL string) http.RoundTripper {
	tt, ok := t.(*testing.T)
	if !ok {
		return nil
	}
	doc, err := openapi.Portal()
	if err != nil {
		t.Fatal(err)
	}
	return openapitest.NewTransport(tt, doc, serverURL, http.DefaultTransport.(*http.Transport).Clone())
}

// validated is p with a client that checks every exchange against the portal's OpenAPI
// document (openapitest.Transport), and the transport, to ask which operations were exercised.
func validated(t *testing.T, p *testPortal) (*testPortal, *openapitest.Transport) {
	t.Helper()
	doc, err := openapi.Portal()
	if err != nil {
		t.Fatal(err)
	}
	tr := openapitest.NewTransport(t, doc, p.URL, nil)
	v := &testPortal{Server: p.Server, client: &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}}
	t.Cleanup(func() { v.client.CloseIdleConnections() })
	return v, tr
}

// TestAPIChanges drives the corrections, removals, history and student changes through the
// gateway over both transports, as a script would with the portal's token, checking every
// request and answer against /api/v1's OpenAPI document, and that the document's every operation
// was exercised.
func TestAPIChanges(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) { testAPIChanges(t, tr) })
	}
}

func testAPIChanges(t *testing.T, tr transport) {
	g := startGrading(t)
	raw := newTestPortalOver(t, tr, sd.FixedInstancer{tr.addr(g)}, func(d *Deps) { d.SignIn = &SignIn{Token: testToken} })
	p, checked := validated(t, raw)
	const js = "application/json"
	auth := []string{"Authorization", "Bearer " + testToken}
	with := func(h ...string) []string { return append(append([]string(nil), auth...), h...) }
	want := func(a answer, status int, contains string) {
		t.Helper()
		if a.status != status || !strings.Contains(a.body, contains) {
			t.Fatalf("answer %d %s; want %d containing %q", a.status, a.body, status, contains)
		}
	}

	if a := p.get(t, "/api/v1/openapi.json"); a.status != 200 || !strings.Contains(a.body, `"openapi": "3.1.0"`) {
		t.Fatalf("GET /api/v1/openapi.json = %d %.200s", a.status, a.body)
	}
	var st grading.Student
	a := p.get(t, "/api/v1/students/1")
	want(a, 200, `"id"`)
	if err := json.Unmarshal([]byte(a.body), &st); err != nil || len(st.Grades) != 3 {
		t.Fatalf("student 1: %v %+v", err, st)
	}
	gid := st.Grades[0].ID // Quiz 1, 85
	grade := "/api/v1/students/1/grades/" + strconv.Itoa(gid)

	a = p.get(t, grade)
	want(a, 200, `"score":85`)
	if et := a.header.Get("ETag"); et != `"1"` {
		t.Fatalf("ETag = %q; want \"1\"", et)
	}
	// The body's changedBy is not believed: the token's holder makes the change.
	a = p.do(t, "PATCH", grade, js, `{"score":91,"changedBy":"mallory"}`, with("If-Match", `"1"`)...)
	want(a, 200, `"score":91`)
	if et := a.header.Get("ETag"); et != `"2"` {
		t.Fatalf("ETag after correcting = %q; want \"2\"", et)
	}
	want(p.do(t, "PATCH", grade, js, `{"score":92}`, with("If-Match", `"1"`)...), 412, "changed since")
	want(p.do(t, "PATCH", grade, js, `{"score":92}`, with("If-Match", `W/"2"`)...), 400, "If-Match")
	want(p.do(t, "PATCH", grade, js, `{}`, auth...), 400, `"change"`)
	want(p.do(t, "PATCH", grade, js, `{"score":101}`, auth...), 400, `"score"`)
	want(p.do(t, "PATCH", grade, js, `{"score":`, auth...), 400, "error")
	want(p.do(t, "PATCH", "/api/v1/students/1/grades/999999", js, `{"score":1}`, auth...), 404, "no such grade")
	want(p.do(t, "PATCH", "/api/v1/students/2/grades/"+strconv.Itoa(gid), js, `{"score":1}`, auth...), 404, "no such grade")
	want(p.get(t, "/api/v1/students/1/grades/abc"), 404, "no such grade")

	// A repeated correction under one Idempotency-Key is applied once.
	for range 2 {
		a = p.do(t, "PATCH", grade, js, `{"title":"Quiz 1 (retake)"}`, with("Idempotency-Key", "fix-1")...)
		want(a, 200, `"version":3`)
	}
	want(p.do(t, "PATCH", grade, js, `{"title":"Other"}`, with("Idempotency-Key", "fix-1")...), 409, "error")

	// Removal: stale, then current, then its repeat.
	want(p.do(t, "DELETE", grade, "", "", with("If-Match", `"2"`)...), 412, "changed since")
	for range 2 {
		want(p.do(t, "DELETE", grade, "", "", with("If-Match", `"3"`, "Idempotency-Key", "rm-1")...), 204, "")
	}
	want(p.get(t, grade), 404, "no such grade")
	a = p.get(t, "/api/v1/students/1")
	want(a, 200, `"average":88`) // (94 + 82) / 2

	a = p.get(t, "/api/v1/students/1/history")
	want(a, 200, `"action":"removed"`)
	var events []grading.GradeEvent
	if err := json.Unmarshal([]byte(a.body), &events); err != nil {
		t.Fatal(err)
	}
	if len(events) != 3 {
		t.Fatalf("history has %d entries; want 3 (two corrections, one removal): %s", len(events), a.body)
	}
	for _, e := range events {
		if e.By != APIUser {
			t.Errorf("history entry by %q; want %q, whatever the body said", e.By, APIUser)
		}
	}
	want(p.get(t, "/api/v1/students/999/history"), 404, "no such student")

	// Students: add, rename, remove.
	want(p.do(t, "POST", "/api/v1/students", js, `{"firstName":"Ada","lastName":"Lovelace"}`, auth...), 201, `"id":6`)
	want(p.do(t, "POST", "/api/v1/students/6/grades", js, `{"title":"Quiz 1","type":"Quiz","score":77}`, with("Idempotency-Key", "add-1")...), 201, `"version":1`)
	want(p.do(t, "PATCH", "/api/v1/students/6", js, `{"firstName":"Augusta Ada","lastName":"King"}`, auth...), 200, `"firstName":"Augusta Ada"`)
	want(p.do(t, "PATCH", "/api/v1/students/6", js, `{"firstName":"","lastName":"King"}`, auth...), 400, `"firstName"`)
	want(p.do(t, "PATCH", "/api/v1/students/999", js, `{"firstName":"A","lastName":"B"}`, auth...), 404, "no such student")
	want(p.do(t, "DELETE", "/api/v1/students/6", "", "", auth...), 409, "still has grades")
	want(p.do(t, "DELETE", "/api/v1/students/6?force=maybe", "", "", auth...), 400, `"force"`)
	want(p.do(t, "DELETE", "/api/v1/students/6?force=true", "", "", auth...), 204, "")
	want(p.get(t, "/api/v1/students/6"), 404, "no such student")

	// The class as CSV, and JSON for everyone else.
	a = p.do(t, "GET", "/api/v1/students", "", "", "Accept", "text/csv")
	if a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV answer %d %s", a.status, a.header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(a.body)).ReadAll()
	if err != nil || len(rows) != 1+2+3*4 || !slices.Equal(rows[0], csvHeader) {
		t.Fatalf("CSV: %v, %d rows, header %v", err, len(rows), rows[0])
	}
	want(p.do(t, "GET", "/api/v1/students", "", "", "Accept", "application/json, text/csv;q=0.5"), 200, `"firstName"`)
	want(p.do(t, "GET", "/api/v1/students", "", "", "Accept", "*/*"), 200, `"firstName"`)

	// Routes the document does not name are answered as such.
	want(p.get(t, "/api/v1/nothing"), 404, "no such route")
	want(p.do(t, "PUT", grade, js, `{}`, auth...), 405, "error")

	doc, err := openapi.Portal()
	if err != nil {
		t.Fatal(err)
	}
	seen := checked.Operations()
	for path, item := range openapitest.Load(t, doc).Paths.Map() {
		for method := range item.Operations() {
			if !seen[method+" "+path] {
				t.Errorf("no exchange of %s %s was checked against the document", method, path)
			}
		}
	}
}

// TestAPIChangesNeedAuthorization: with sign-in on, a change without the token or a session is
// 401, as is one with a wrong token; the document is for anyone.
func TestAPIChangesNeedAuthorization(t *testing.T) {
	g := startGrading(t)
	raw := newTestPortal(t, sd.FixedInstancer{g.addr()}, func(d *Deps) {
		sealer, err := auth.NewSealer(make([]byte, 32))
		if err != nil {
			t.Fatal(err)
		}
		d.SignIn = &SignIn{Users: testUsers(t), Sealer: sealer, Token: testToken}
	})
	p, _ := validated(t, raw)
	a := p.do(t, "PATCH", "/api/v1/students/1/grades/1", "application/json", `{"score":1}`)
	if a.status != http.StatusUnauthorized {
		t.Fatalf("PATCH without the token = %d %s; want 401", a.status, a.body)
	}
	a = p.do(t, "DELETE", "/api/v1/students/1?force=true", "", "", "Authorization", "Bearer wrong")
	if a.status != http.StatusUnauthorized {
		t.Fatalf("DELETE with a wrong token = %d %s; want 401", a.status, a.body)
	}
	a = p.do(t, "GET", "/api/v1/students", "", "", "Accept", "text/csv")
	if a.status != http.StatusUnauthorized {
		t.Fatalf("CSV without the token = %d %s; want 401", a.status, a.body)
	}
	if a := p.get(t, "/api/v1/openapi.json"); a.status != 200 {
		t.Fatalf("the document without the token = %d; want 200 (it holds nothing secret)", a.status)
	}
}
