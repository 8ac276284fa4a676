package httpserver_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"unicode"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingtest"
	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/pkg/idempotency"
)

// call sends one request to srv and answers the status, the headers and the body.
func call(t *testing.T, base, method, path, body string, header map[string]string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// TestHTTPGradeChanges walks the change routes over a real socket: ETags, If-Match, 412, 400,
// 204, the history's JSON, and the removal of students with and without force.
func TestHTTPGradeChanges(t *testing.T) {
	srv := gradingtest.ServeHTTP(t, gradingtest.NewDemoService(t))
	base := srv.URL
	// Student 1 (Averill) has grades 1, 2 and 3, at version 1; student 2 has 4, 5 and 6.
	steps := []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
		contains                 string // in the body
		etag                     string // the ETag header, when one is wanted
	}{
		{"get a grade", "GET", "/students/1/grades/2", "", nil, 200, `"id":2,"version":1,"title":"Week 1 Homework"`, `"1"`},
		{"get another student's grade", "GET", "/students/1/grades/4", "", nil, 404, `"error":"no such grade"`, ""},
		{"get an unknown grade", "GET", "/students/1/grades/999", "", nil, 404, `"error":"no such grade"`, ""},
		{"get a grade of an unknown student", "GET", "/students/99/grades/1", "", nil, 404, `"error":"no such student"`, ""},
		{"get a non-canonical grade id", "GET", "/students/1/grades/02", "", nil, 404, `"error":"no such grade"`, ""},
		{"correct", "PATCH", "/students/1/grades/2", `{"score":50,"changedBy":"krabappel"}`, map[string]string{"If-Match": `"1"`}, 200, `"id":2,"version":2,"title":"Week 1 Homework","type":"Homework","score":50`, `"2"`},
		{"correct at a stale version", "PATCH", "/students/1/grades/2", `{"score":60}`, map[string]string{"If-Match": `"1"`}, 412, `"error":"the grade was changed since the version given`, ""},
		{"remove at a stale version", "DELETE", "/students/1/grades/2", ``, map[string]string{"If-Match": `"1"`}, 412, `If-Match`, ""},
		{"malformed If-Match", "PATCH", "/students/1/grades/2", `{"score":60}`, map[string]string{"If-Match": `2`}, 400, `"error":"If-Match must be`, ""},
		{"weak If-Match", "DELETE", "/students/1/grades/2", ``, map[string]string{"If-Match": `W/"2"`}, 400, `If-Match must be`, ""},
		{"correct without If-Match", "PATCH", "/students/1/grades/2", `{"title":"Homework 1"}`, nil, 200, `"version":3,"title":"Homework 1"`, `"3"`},
		{"correct with If-Match *", "PATCH", "/students/1/grades/2", `{"type":"Quiz"}`, map[string]string{"If-Match": `*`}, 200, `"version":4,"title":"Homework 1","type":"Quiz"`, `"4"`},
		{"empty correction", "PATCH", "/students/1/grades/2", `{}`, nil, 400, `"fields":{"change"`, ""},
		{"invalid correction", "PATCH", "/students/1/grades/2", `{"score":101,"type":"Exam"}`, nil, 400, `"fields":{"score"`, ""},
		{"correction that is not an object", "PATCH", "/students/1/grades/2", `[1]`, nil, 400, `"error"`, ""},
		{"correction of an unknown grade", "PATCH", "/students/1/grades/999", `{"score":1}`, nil, 404, `no such grade`, ""},
		{"correction under a key", "PATCH", "/students/1/grades/1", `{"score":70}`, map[string]string{idempotency.Header: "fix-1"}, 200, `"version":2`, `"2"`},
		{"the same correction again", "PATCH", "/students/1/grades/1", `{"score":70}`, map[string]string{idempotency.Header: "fix-1"}, 200, `"version":2`, `"2"`},
		{"another correction under the key", "PATCH", "/students/1/grades/1", `{"score":71}`, map[string]string{idempotency.Header: "fix-1"}, 409, `Idempotency-Key`, ""},
		{"remove", "DELETE", "/students/1/grades/3", `{"changedBy":"krabappel"}`, map[string]string{"If-Match": `"1"`, idempotency.Header: "rm-1"}, 204, ``, ""},
		{"the same removal again", "DELETE", "/students/1/grades/3", `{"changedBy":"krabappel"}`, map[string]string{"If-Match": `"1"`, idempotency.Header: "rm-1"}, 204, ``, ""},
		{"remove again without the key", "DELETE", "/students/1/grades/3", ``, nil, 404, `no such grade`, ""},
		{"remove with a malformed body", "DELETE", "/students/1/grades/1", `{"changedBy":`, nil, 400, `"error"`, ""},
		{"the average leaves the removed grade", "GET", "/students/1", "", nil, 200, `"average":60`, ""},
		{"history", "GET", "/students/1/history", "", nil, 200, `"gradeId":2,"version":2,"action":"corrected","by":"krabappel"`, ""},
		{"history of an unknown student", "GET", "/students/99/history", "", nil, 404, `no such student`, ""},
		{"rename", "PATCH", "/students/1", `{"firstName":"Avery","lastName":"Simen"}`, nil, 200, `"firstName":"Avery"`, ""},
		{"rename invalid", "PATCH", "/students/1", `{"firstName":"","lastName":"Simen"}`, nil, 400, `"fields":{"firstName"`, ""},
		{"rename unknown", "PATCH", "/students/99", `{"firstName":"A","lastName":"B"}`, nil, 404, `no such student`, ""},
		{"remove a student with grades", "DELETE", "/students/2", "", nil, 409, `"error":"the student still has grades`, ""},
		{"remove a student with a bad force", "DELETE", "/students/2?force=yes", "", nil, 400, `"fields":{"force"`, ""},
		{"remove a student with force", "DELETE", "/students/2?force=true", "", nil, 204, ``, ""},
		{"the removed student", "GET", "/students/2", "", nil, 404, `no such student`, ""},
	}
	for _, st := range steps {
		status, header, body := call(t, base, st.method, st.path, st.body, st.header)
		if status != st.status || !strings.Contains(body, st.contains) {
			t.Errorf("%s: %s %s = %d %s; want %d with %s", st.name, st.method, st.path, status, body, st.status, st.contains)
		}
		if st.etag != "" && header.Get("ETag") != st.etag {
			t.Errorf("%s: ETag = %q, want %q", st.name, header.Get("ETag"), st.etag)
		}
		if status >= 400 && header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: an error answered as %q, want JSON", st.name, header.Get("Content-Type"))
		}
		if status == http.StatusNoContent && body != "" {
			t.Errorf("%s: 204 with a body %q", st.name, body)
		}
	}
	// The history in full: the corrections of grade 2, then of grade 1, then the removal of 3.
	_, _, body := call(t, base, "GET", "/students/1/history", "", nil)
	var events []grading.GradeEvent
	if err := json.Unmarshal([]byte(body), &events); err != nil {
		t.Fatal(err)
	}
	if len(events) != 5 {
		t.Fatalf("history = %s, want 5 entries", body)
	}
	last := events[4]
	if last.Action != grading.ActionRemoved || last.GradeID != 3 || last.By != "krabappel" || last.New != nil || last.Old.Title != "Quiz 2" || last.At.IsZero() {
		t.Errorf("last history entry = %+v, want the removal of Quiz 2 by krabappel", last)
	}
	if first := events[0]; first.Old.Score != 94 || first.New == nil || first.New.Score != 50 || first.Old.Version != 1 || first.New.Version != 2 {
		t.Errorf("first history entry = %+v, want 94 at version 1 to 50 at version 2", first)
	}
	// An AddGrade answer carries its ETag too.
	status, header, _ := call(t, base, "POST", "/students/1/grades", `{"title":"Quiz 3","type":"Quiz","score":1}`, nil)
	if status != http.StatusCreated || header.Get("ETag") != `"1"` {
		t.Errorf("POST grade = %d with ETag %q, want 201 with \"1\"", status, header.Get("ETag"))
	}
}

func FuzzDecodeGradeChange(f *testing.F) {
	for _, s := range []string{
		`{"score":85}`,
		`{"title":"Quiz 1","type":"Quiz","score":85,"changedBy":"frizzle"}`,
		`{"Title":"Quiz 3"}`,
		`{"title":" "}`, `{"score":-1}`, `{"score":1e308}`, `{"score":-0}`, `{"type":"Exam"}`,
		`{"title":null}`, `{}`, `[]`, `null`, `"x"`, `{`, ``, `{"score":"90"}`, `{"id":3,"version":9}`,
		"{\"title\":\"Quiz \xff\"}",
		`{"title":"Quiz\u0000"}`, `{"title":"\u001b[2J"}`, `{"changedBy":"` + strings.Repeat("x", 65) + `","score":1}`,
	} {
		f.Add(s)
	}
	svc := newOneStudentService(f)
	if _, err := svc.AddGrade(context.Background(), 1, grading.Grade{Title: "Quiz 1", Type: grading.TypeQuiz, Score: 1}, ""); err != nil {
		f.Fatal(err)
	}
	srv := gradingtest.ServeHTTP(f, svc)
	client := srv.Client()
	f.Fuzz(func(t *testing.T, body string) {
		// Each input corrects the one grade of student 1 afresh: without If-Match, any version.
		req, err := http.NewRequest(http.MethodPatch, srv.URL+"/students/1/grades/1", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("PATCH %q: status %d %s", body, resp.StatusCode, b)
		}
		if !json.Valid(b) {
			t.Fatalf("PATCH %q: answer is not JSON: %s", body, b)
		}
		if resp.StatusCode != http.StatusOK {
			var eb httpx.ErrorBody
			if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
				t.Fatalf("PATCH %q: error answer without a message: %s", body, b)
			}
			return
		}
		var g grading.Grade
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatal(err)
		}
		if g.ID != 1 || g.Version < 2 || math.IsNaN(g.Score) || g.Score < 0 || g.Score > 100 || math.Signbit(g.Score) ||
			strings.TrimSpace(g.Title) != g.Title || g.Title == "" || strings.ContainsFunc(g.Title, unicode.IsControl) || replaced(body, g.Title) ||
			(g.Type != grading.TypeQuiz && g.Type != grading.TypeTest && g.Type != grading.TypeHomework) {
			t.Fatalf("accepted an invalid correction %+v from %q", g, body)
		}
	})
}
