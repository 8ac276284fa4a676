package portal

import (
	"encoding/csv"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-kit/kit/sd"
)

// hidden reads the value of the hidden input name inside the form whose action is action.
func hidden(t *testing.T, page, action, name string) string {
	t.Helper()
	i := strings.Index(page, `action="`+action+`"`)
	if i < 0 {
		t.Fatalf("no form posting to %s on the page:\n%s", action, page)
	}
	form := page[i:]
	form = form[:strings.Index(form, "</form>")]
	m := regexp.MustCompile(`name="` + name + `" value="([^"]*)"`).FindStringSubmatch(form)
	if m == nil {
		t.Fatalf("the form posting to %s has no %s", action, name)
	}
	return m[1]
}

// TestPageCorrectGrade corrects a score from the student page: the new average and the history
// show it; a second post of the same page (a stale version) is refused with the current values,
// and bad input gets a clear error on the page.
func TestPageCorrectGrade(t *testing.T) {
	g := startGrading(t)
	p := newTestPortal(t, sd.FixedInstancer{g.addr()})
	if h := p.get(t, "/students/1/history"); h.status != 200 || !strings.Contains(h.body, "No grade has been corrected or removed.") {
		t.Fatalf("history page = %d %s", h.status, h.body)
	}
	page := p.get(t, "/students/1")
	if page.status != 200 || !strings.Contains(page.body, `<a href="/students/1/history" id="history-link">`) {
		t.Fatalf("student page = %d, without a link to the history:\n%s", page.status, page.body)
	}
	const edit = "/students/1/grades/1"
	if v := hidden(t, page.body, edit, "version"); v != "1" {
		t.Fatalf("the edit form shows version %q; want 1", v)
	}
	key := hidden(t, page.body, edit, "idempotencyKey")
	// Each row's form shows its own grade: the homework's type is the one selected in its form.
	row2 := page.body[strings.Index(page.body, `action="/students/1/grades/2"`):]
	row2 = row2[:strings.Index(row2, "</form>")]
	if !strings.Contains(row2, "<option selected>Homework</option>") || !strings.Contains(row2, `value="Week 1 Homework"`) || !strings.Contains(row2, `value="94"`) {
		t.Fatalf("the homework's edit form does not show the homework:\n%s", row2)
	}
	a := p.do(t, "POST", edit, formType, form("title", "Quiz 1", "type", "Quiz", "score", "91", "version", "1", "idempotencyKey", key))
	if a.status != 303 || a.header.Get("Location") != "/students/1?changed=corrected#grade-1" {
		t.Fatalf("correct = %d %s %s", a.status, a.header.Get("Location"), a.body)
	}
	a = p.get(t, "/students/1?changed=corrected")
	// (91 + 94 + 82) / 3 = 89
	for _, want := range []string{"Grade corrected. The average is now 89.0.", `id="average">89.0`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("page after correcting lacks %q", want)
		}
	}
	a = p.get(t, "/students/1/history")
	for _, want := range []string{"Quiz 1: score 85 → 91</td>", "someone (open portal)", `<a href="/students/1" id="back-to-student">Averill Simen</a>`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("history after correcting lacks %q:\n%s", want, a.body)
		}
	}
	// The same form again: its key answers the first result, so nothing changes twice.
	a = p.do(t, "POST", edit, formType, form("title", "Quiz 1", "type", "Quiz", "score", "91", "version", "1", "idempotencyKey", key))
	if a.status != 303 {
		t.Fatalf("repeat of the same form = %d; want 303 (applied once)", a.status)
	}
	// The page as it was first shown, under another key: another teacher's stale edit.
	a = p.do(t, "POST", edit, formType, form("title", "Quiz 1", "type", "Quiz", "score", "70", "version", "1", "idempotencyKey", "other-teacher"))
	if a.status != 409 || !strings.Contains(a.body, "Someone else changed this grade") || !strings.Contains(a.body, "Quiz 1 (Quiz, 91)") {
		t.Fatalf("stale edit = %d; want 409 saying what the grade is now:\n%s", a.status, a.body)
	}
	if v := hidden(t, a.body, edit, "version"); v != "2" {
		t.Errorf("after a stale edit the form carries version %q; want the current 2", v)
	}
	if !strings.Contains(a.body, `value="70"`) {
		t.Errorf("the stale edit's values were not kept in the form")
	}
	if got := p.get(t, "/api/v1/students/1/grades/1").body; !strings.Contains(got, `"score":91`) {
		t.Fatalf("the stale edit overwrote the grade: %s", got)
	}

	bad := []struct {
		name, path, body string
		status           int
		contains         string
	}{
		{"score not a number", edit, form("title", "Quiz 1", "type", "Quiz", "score", "abc", "version", "2"), 422, "must be a number from 0 to 100"},
		{"score too high", edit, form("title", "Quiz 1", "type", "Quiz", "score", "101", "version", "2"), 422, "must be from 0 to 100"},
		{"no score", edit, form("title", "Quiz 1", "type", "Quiz", "version", "2"), 422, "is required"},
		{"no title", edit, form("title", " ", "type", "Quiz", "score", "50", "version", "2"), 422, "is required"},
		{"bad type", edit, form("title", "Quiz 1", "type", "Exam", "score", "50", "version", "2"), 422, "must be one of"},
		{"no version", edit, form("title", "Quiz 1", "type", "Quiz", "score", "50"), 400, "does not say which version"},
		{"bad version", edit, form("title", "Quiz 1", "type", "Quiz", "score", "50", "version", "-1"), 400, "does not say which version"},
		{"bad key", edit, form("title", "Quiz 1", "type", "Quiz", "score", "50", "version", "2", "idempotencyKey", strings.Repeat("k", 300)), 422, "could not be saved"},
		{"unknown grade", "/students/1/grades/999", form("title", "Quiz 1", "type", "Quiz", "score", "50", "version", "1"), 409, "no longer exists"},
		{"grade of another student", "/students/2/grades/1", form("title", "Quiz 1", "type", "Quiz", "score", "50", "version", "2"), 409, "no longer exists"},
		{"grade ID not a number", "/students/1/grades/x", form("score", "50", "version", "1"), 404, "Not found"},
		{"unknown student", "/students/999/grades/1", form("title", "Quiz 1", "type", "Quiz", "score", "50", "version", "1"), 404, "Not found"},
		{"unreadable form", edit, "%zz", 400, "could not be read"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			a := p.do(t, "POST", tc.path, formType, tc.body)
			if a.status != tc.status || !strings.Contains(a.body, tc.contains) {
				t.Fatalf("= %d; want %d containing %q:\n%s", a.status, tc.status, tc.contains, a.body)
			}
		})
	}
	if got := p.get(t, "/api/v1/students/1/grades/1").body; !strings.Contains(got, `"score":91`) || !strings.Contains(got, `"version":2`) {
		t.Fatalf("bad input changed the grade: %s", got)
	}
	if a := p.get(t, edit); a.status != 303 || a.header.Get("Location") != "/students/1#grade-1" {
		t.Fatalf("GET of the edit form's target = %d %s; want 303 to the row", a.status, a.header.Get("Location"))
	}
}

// TestPageRemoveGrade removes a grade through its confirmation page; a stale confirmation is
// refused, and a grade already gone says so.
func TestPageRemoveGrade(t *testing.T) {
	g := startGrading(t)
	p := newTestPortal(t, sd.FixedInstancer{g.addr()})
	const confirm = "/students/1/grades/2/remove"
	page := p.get(t, "/students/1")
	if !strings.Contains(page.body, `action="`+confirm+`"`) {
		t.Fatalf("the student page has no remove button for grade 2")
	}
	a := p.get(t, confirm)
	if a.status != 200 || !strings.Contains(a.body, "Remove this grade?") || !strings.Contains(a.body, "Week 1 Homework") {
		t.Fatalf("confirmation page = %d %s", a.status, a.body)
	}
	version, key := hidden(t, a.body, confirm, "version"), hidden(t, a.body, confirm, "idempotencyKey")

	// Someone corrects the grade while the confirmation is open.
	if c := p.do(t, "PATCH", "/api/v1/students/1/grades/2", "application/json", `{"score":95}`); c.status != 200 {
		t.Fatalf("correct meanwhile = %d %s", c.status, c.body)
	}
	a = p.do(t, "POST", confirm, formType, form("version", version, "idempotencyKey", key))
	if a.status != 409 || !strings.Contains(a.body, "Someone else changed this grade") || !strings.Contains(a.body, ">95<") {
		t.Fatalf("stale removal = %d; want 409 showing the grade now:\n%s", a.status, a.body)
	}
	version, key = hidden(t, a.body, confirm, "version"), hidden(t, a.body, confirm, "idempotencyKey")
	a = p.do(t, "POST", confirm, formType, form("version", version, "idempotencyKey", key))
	if a.status != 303 || a.header.Get("Location") != "/students/1?changed=removed" {
		t.Fatalf("removal = %d %s", a.status, a.header.Get("Location"))
	}
	// (85 + 82) / 2 = 83.5
	a = p.get(t, "/students/1?changed=removed")
	if !strings.Contains(a.body, "Grade removed. The average is now 83.5.") {
		t.Errorf("page after removing lacks the notice:\n%s", a.body)
	}
	a = p.get(t, "/students/1/history")
	for _, want := range []string{"Week 1 Homework (Homework, 95) removed", "score 94 → 95"} {
		if !strings.Contains(a.body, want) {
			t.Errorf("history after removing lacks %q", want)
		}
	}
	if a := p.do(t, "POST", confirm, formType, form("version", version, "idempotencyKey", key)); a.status != 303 {
		t.Errorf("repeat of the confirmed removal = %d; want 303 (applied once)", a.status)
	}
	if a := p.get(t, confirm); a.status != 404 || !strings.Contains(a.body, "No such grade") {
		t.Errorf("confirmation of a removed grade = %d; want 404", a.status)
	}
	if a := p.do(t, "POST", confirm, formType, form("version", "3", "idempotencyKey", "another")); a.status != 404 {
		t.Errorf("removal of a removed grade = %d; want 404", a.status)
	}
	if a := p.do(t, "POST", "/students/1/grades/3/remove", formType, form("idempotencyKey", "k")); a.status != 400 || !strings.Contains(a.body, "did not say which version") {
		t.Errorf("removal without a version = %d %s; want 400", a.status, a.body)
	}
	if a := p.get(t, "/students/1/grades/nope/remove"); a.status != 404 {
		t.Errorf("confirmation of a grade ID that is no number = %d; want 404", a.status)
	}
}

// TestPageRenameAndRemoveStudent renames a student, and removes one only once their name is
// typed, and with their grades only when the box says so.
func TestPageRenameAndRemoveStudent(t *testing.T) {
	g := startGrading(t)
	p := newTestPortal(t, sd.FixedInstancer{g.addr()})
	if a := p.get(t, "/students/2/edit"); a.status != 200 || !strings.Contains(a.body, "name to confirm: Marge Garrard") {
		t.Fatalf("edit page = %d %s", a.status, a.body)
	}
	a := p.do(t, "POST", "/students/2/rename", formType, form("firstName", "Margaret", "lastName", "Garrard"))
	if a.status != 303 || a.header.Get("Location") != "/students/2?changed=renamed" {
		t.Fatalf("rename = %d %s", a.status, a.header.Get("Location"))
	}
	if a := p.get(t, "/students/2?changed=renamed"); !strings.Contains(a.body, "<h1>Margaret Garrard</h1>") || !strings.Contains(a.body, "Student renamed.") {
		t.Fatalf("page after renaming:\n%s", a.body)
	}
	if a := p.do(t, "POST", "/students/2/rename", formType, form("firstName", " ", "lastName", "Garrard")); a.status != 422 || !strings.Contains(a.body, "is required") {
		t.Fatalf("rename to nothing = %d; want 422", a.status)
	}
	if a := p.do(t, "POST", "/students/2/remove", formType, form("confirmName", "Marge Garrard")); a.status != 422 || !strings.Contains(a.body, "exactly as shown, Margaret Garrard") {
		t.Fatalf("remove with the wrong name = %d; want 422:\n%s", a.status, a.body)
	}
	if a := p.do(t, "POST", "/students/2/remove", formType, form("confirmName", " Margaret  Garrard ")); a.status != 409 || !strings.Contains(a.body, "still has grades") {
		t.Fatalf("remove with grades, unticked = %d; want 409:\n%s", a.status, a.body)
	}
	if a := p.get(t, "/api/v1/students/2"); a.status != 200 {
		t.Fatalf("the student went without the box ticked: %d", a.status)
	}
	a = p.do(t, "POST", "/students/2/remove", formType, form("confirmName", "Margaret Garrard", "force", "true"))
	if a.status != 303 || a.header.Get("Location") != "/students?removed=student" {
		t.Fatalf("remove = %d %s", a.status, a.header.Get("Location"))
	}
	if a := p.get(t, "/students?removed=student"); !strings.Contains(a.body, "The student was removed.") || strings.Contains(a.body, "Garrard") {
		t.Fatalf("list after removing:\n%s", a.body)
	}
	if a := p.get(t, "/students/2/edit"); a.status != 404 {
		t.Fatalf("edit page of a removed student = %d; want 404", a.status)
	}
	if a := p.do(t, "POST", "/students/999/rename", formType, form("firstName", "A", "lastName", "B")); a.status != 404 {
		t.Fatalf("rename an unknown student = %d; want 404", a.status)
	}
	if a := p.get(t, "/students/1/remove"); a.status != 303 || a.header.Get("Location") != "/students/1/edit" {
		t.Fatalf("GET of the removal's target = %d %s", a.status, a.header.Get("Location"))
	}
}

// TestPageChangesRefuseOtherSites: the new forms are guarded as the others are.
func TestPageChangesRefuseOtherSites(t *testing.T) {
	g := startGrading(t)
	p := newTestPortal(t, sd.FixedInstancer{g.addr()})
	for _, path := range []string{"/students/1/grades/1", "/students/1/grades/1/remove", "/students/1/rename", "/students/1/remove"} {
		a := p.do(t, "POST", path, formType, form("version", "1", "score", "1", "title", "x", "type", "Quiz", "confirmName", "Averill Simen", "force", "true", "firstName", "X", "lastName", "Y"),
			"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
		if a.status != 403 {
			t.Errorf("cross-site POST %s = %d; want 403", path, a.status)
		}
	}
	if a := p.get(t, "/api/v1/students/1"); !strings.Contains(a.body, `"firstName":"Averill"`) || !strings.Contains(a.body, `"score":85`) {
		t.Fatalf("a cross-site post changed something: %s", a.body)
	}
}

// TestCSVExport: the class exports one row per student and grade, and a title a spreadsheet
// would run as a formula exports as text.
func TestCSVExport(t *testing.T) {
	g := startGrading(t)
	p := newTestPortal(t, sd.FixedInstancer{g.addr()})
	for _, body := range []string{
		`{"title":"=HYPERLINK(\"http://x\")","type":"Quiz","score":50}`,
		`{"title":"@SUM(A1:A2)","type":"Test","score":0}`,
	} {
		if a := p.do(t, "POST", "/api/v1/students/3/grades", "application/json", body); a.status != 201 {
			t.Fatalf("add grade = %d %s", a.status, a.body)
		}
	}
	if a := p.do(t, "POST", "/api/v1/students", "application/json", `{"firstName":"-Dash","lastName":"Ünïcødé, \"Q\""}`); a.status != 201 {
		t.Fatalf("add student = %d %s", a.status, a.body)
	}
	if a := p.get(t, "/students"); !strings.Contains(a.body, `href="/students.csv"`) {
		t.Fatalf("the class page does not link the export")
	}
	a := p.get(t, "/students.csv")
	if a.status != 200 || a.header.Get("Content-Type") != CSVContentType || !strings.Contains(a.header.Get("Content-Disposition"), `filename="students.csv"`) {
		t.Fatalf("/students.csv = %d %v", a.status, a.header)
	}
	rows, err := csv.NewReader(strings.NewReader(a.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], csvHeader) {
		t.Fatalf("header = %v", rows[0])
	}
	// 5 students × 3 grades, 2 more for Sydnie, and one row for the student without grades.
	if len(rows) != 1+15+2+1 {
		t.Fatalf("%d rows; want 19:\n%s", len(rows), a.body)
	}
	col := func(name string) int { return slices.Index(csvHeader, name) }
	var titles []string
	for _, r := range rows[1:] {
		if r[col("student_id")] == "3" {
			titles = append(titles, r[col("title")])
			if r[col("student_average")] != "63.40" { // (88 + 93 + 86 + 50 + 0) / 5
				t.Errorf("Sydnie's average cell = %q; want 63.40", r[col("student_average")])
			}
		}
	}
	if !slices.Contains(titles, `'=HYPERLINK("http://x")`) || !slices.Contains(titles, "'@SUM(A1:A2)") {
		t.Errorf("formula titles were not exported as text: %q", titles)
	}
	last := rows[len(rows)-1]
	if last[col("first_name")] != "'-Dash" || last[col("last_name")] != `Ünïcødé, "Q"` || last[col("grade_id")] != "" || last[col("student_average")] != "" {
		t.Errorf("the student without grades exported as %q", last)
	}
	if first := rows[1]; first[col("first_name")] != "Averill" || first[col("score")] != "85" || first[col("type")] != "Quiz" || first[col("student_average")] != "87.00" {
		t.Errorf("first row = %q", first)
	}
}

func TestCSVText(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "",
		"Quiz 1":                 "Quiz 1",
		`=HYPERLINK("http://x")`: `'=HYPERLINK("http://x")`,
		"+1":                     "'+1",
		"-1":                     "'-1",
		"@x":                     "'@x",
		"\tx":                    "'\tx",
		"\rx":                    "'\rx",
		" =x":                    " =x",
		"a=b":                    "a=b",
	} {
		if got := csvText(in); got != want {
			t.Errorf("csvText(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestPageChangesWhenGradingIsDown: a change posted while no grading instance answers gets the
// 503 page saying it may not have been made, and where to check.
func TestPageChangesWhenGradingIsDown(t *testing.T) {
	p := newTestPortalNoWait(t, sd.FixedInstancer{deadAddr(t)})
	for path, back := range map[string]string{
		"/students/1/grades/1":        "/students/1",
		"/students/1/grades/1/remove": "/students/1",
		"/students/1/rename":          "/students/1/edit",
		"/students/1/remove":          "/students/1/edit",
	} {
		a := p.do(t, "POST", path, formType, form("version", "1", "score", "1", "title", "x", "type", "Quiz", "confirmName", "A B", "firstName", "A", "lastName", "B"))
		if a.status != 503 || !strings.Contains(a.body, "the change may not have been made") || !strings.Contains(a.body, `href="`+back+`"`) {
			t.Errorf("POST %s with grading down = %d; want 503 leading to %s:\n%s", path, a.status, back, a.body)
		}
	}
	for _, path := range []string{"/students.csv", "/students/1/edit", "/students/1/grades/1/remove"} {
		if a := p.get(t, path); a.status != 503 {
			t.Errorf("GET %s with grading down = %d; want 503", path, a.status)
		}
	}
	if a := p.do(t, "GET", "/api/v1/students", "", "", "Accept", "text/csv"); a.status != 503 || !strings.Contains(a.body, `"error"`) {
		t.Errorf("CSV from the API with grading down = %d %s; want a 503 JSON error", a.status, a.body)
	}
}

// TestPageChangesNeedASession: with sign-in on, a correction or removal without a session is not
// acted on and leads to the sign-in page, which comes back to the page of the form; a signed-in
// teacher's change is recorded in their name, whatever the form says.
func TestPageChangesNeedASession(t *testing.T) {
	p := newSignInPortal(t, newSignInStore(t), newClock(), sharedKey)
	for path, next := range map[string]string{
		"/students/1/grades/1":        "/students/1/grades/1",
		"/students/1/grades/1/remove": "/students/1/grades/1/remove",
		"/students/1/remove":          "/students/1/remove",
	} {
		resp := p.do(t, request{method: "POST", path: path, body: form("version", "1", "title", "Quiz 1", "type", "Quiz", "score", "1", "confirmName", "Averill Simen", "force", "true")})
		if resp.StatusCode != 303 || resp.Header.Get("Location") != "/login?next="+url.QueryEscape(next) {
			t.Errorf("POST %s without a session = %d %s", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	if g := p.grades(t, 1); len(g) != 3 || g[0].Score != 85 {
		t.Fatalf("a post without a session changed the grades: %+v", g)
	}
	cookie := p.signIn(t, teacher, teacherPassword, "192.0.2.7")
	resp := p.do(t, request{method: "POST", path: "/students/1/grades/1", cookie: cookie, body: form("version", "1", "title", "Quiz 1", "type", "Quiz", "score", "88", "changedBy", "mallory")})
	if resp.StatusCode != 303 {
		t.Fatalf("signed-in correction = %d %s", resp.StatusCode, body(t, resp))
	}
	page := body(t, p.do(t, request{method: "GET", path: "/students/1/history", cookie: cookie}))
	if !strings.Contains(page, "<td>"+teacher+"</td>") || strings.Contains(page, "mallory") {
		t.Fatalf("the history does not name the signed-in teacher %q:\n%s", teacher, page)
	}
}
