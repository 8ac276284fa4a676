package httpserver_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingtest"
	"github.com/gradebook/gradebook/grading/httpserver"
)

// fuzzPost sends body to path through the full handler and checks what any input must get: a
// JSON answer with an expected status, never a panic or a 500.
func fuzzPost(t *testing.T, h http.Handler, path, body string, ok int) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	switch rec.Code {
	case ok, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
	default:
		t.Fatalf("POST %s %q: status %d %s", path, body, rec.Code, rec.Body)
	}
	if !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("POST %s %q: answer is not JSON: %s", path, body, rec.Body)
	}
	return rec
}

func FuzzDecodeGrade(f *testing.F) {
	for _, s := range []string{
		`{"title":"Quiz 1","type":"Quiz","score":85}`,
		`{"Title":"Quiz 3","Type":"Quiz","Score":90}`,
		`{"title":" ","type":"Test","score":-1}`,
		`{"title":"a","type":"Homework","score":1e308}`,
		`{"title":"a","type":"Quiz","score":100.0000001}`,
		`{"title":"\u0000\ud800","type":"Quiz","score":0}`,
		`[1,2,3]`, `null`, `"x"`, `{`, ``,
		// The attacks the input policy stops: invalid UTF-8, control characters, -0.
		"{\"title\":\"Quiz \xff\",\"type\":\"Quiz\",\"score\":1}",
		"{\"title\":\"\xed\xa0\x80\",\"type\":\"Quiz\",\"score\":1}",
		`{"title":"Quiz\u0000","type":"Quiz","score":1}`,
		`{"title":"\u001b[2J","type":"Quiz","score":1}`,
		`{"title":"a\u0085b","type":"Quiz","score":1}`,
		`{"title":"Quiz","type":"Quiz","score":-0}`,
		`{"title":"Quiz","type":"Quiz","score":-0.0e5}`,
	} {
		f.Add(s)
	}
	h := httpserver.NewHandler(grading.MakeServerEndpoints(newOneStudentService(f)), nil)
	f.Fuzz(func(t *testing.T, body string) {
		rec := fuzzPost(t, h, "/students/1/grades", body, http.StatusCreated)
		if rec.Code != http.StatusCreated {
			return
		}
		var g grading.Grade
		if err := json.Unmarshal(rec.Body.Bytes(), &g); err != nil {
			t.Fatal(err)
		}
		if math.IsNaN(g.Score) || g.Score < 0 || g.Score > 100 || math.Signbit(g.Score) || strings.TrimSpace(g.Title) != g.Title || g.Title == "" ||
			!utf8.ValidString(g.Title) || strings.ContainsFunc(g.Title, unicode.IsControl) || replaced(body, g.Title) ||
			(g.Type != grading.TypeQuiz && g.Type != grading.TypeTest && g.Type != grading.TypeHomework) {
			t.Fatalf("accepted an invalid grade %+v from %q", g, body)
		}
	})
}

func FuzzDecodeStudent(f *testing.F) {
	for _, s := range []string{
		`{"firstName":"Averill","lastName":"Simen"}`,
		`{"FirstName":"Ann","LastName":"Lee"}`,
		`{"firstName":"","lastName":"x"}`,
		`{"firstName":"<script>alert(1)</script>","lastName":"x"}`,
		`{"firstName":1}`, `{}`, `[]`, `{`,
		"{\"firstName\":\"Ann\xff\",\"lastName\":\"Lee\"}",
		"{\"firstName\":\"Ann\",\"lastName\":\"L\xc3\"}",
		"{\"firstName\xff\":\"Ann\",\"lastName\":\"Lee\"}",
		`{"firstName":"Ann\u0000","lastName":"Lee"}`,
		`{"firstName":"Ann","lastName":"\u001b]0;owned\u0007"}`,
	} {
		f.Add(s)
	}
	h := httpserver.NewHandler(grading.MakeServerEndpoints(gradingtest.NewService(f)), nil)
	f.Fuzz(func(t *testing.T, body string) {
		rec := fuzzPost(t, h, "/students", body, http.StatusCreated)
		if rec.Code != http.StatusCreated {
			return
		}
		var st grading.Student
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
			t.Fatal(err)
		}
		if st.ID <= 0 || st.FirstName == "" || st.LastName == "" || st.Average != nil ||
			strings.ContainsFunc(st.FirstName+st.LastName, unicode.IsControl) || !utf8.ValidString(st.FirstName+st.LastName) {
			t.Fatalf("accepted %+v from %q", st, body)
		}
	})
}

// newOneStudentService is the service over a store that holds one student, ID 1.
func newOneStudentService(t testing.TB) grading.Service {
	svc := gradingtest.NewService(t)
	if _, err := svc.AddStudent(context.Background(), "A", "B"); err != nil {
		t.Fatal(err)
	}
	return svc
}

// replaced tells whether stored holds a U+FFFD that body did not send (as the character or as
// an escape): one that encoding/json put in place of invalid UTF-8.
func replaced(body, stored string) bool {
	return strings.ContainsRune(stored, utf8.RuneError) &&
		!strings.Contains(body, "\uFFFD") && !strings.Contains(strings.ToLower(body), `\ufffd`)
}
