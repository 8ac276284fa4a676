package portal

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzChangeForms posts arbitrary bodies to the forms that correct and remove grades and rename
// and remove students, at student and grade IDs that exist and that do not: the answer is always
// a redirect or a readable 4xx page, never a 500 or a panic.
func FuzzChangeForms(f *testing.F) {
	h := fuzzHandler(f)
	for _, seed := range []struct {
		path uint8
		body string
	}{
		{0, form("title", "Quiz 1", "type", "Quiz", "score", "91", "version", "1")},
		{0, form("title", "", "type", "Exam", "score", "NaN", "version", "x")},
		{0, form("title", "x", "type", "Test", "score", "1e309", "version", "99999999999999999999")},
		{1, form("version", "1", "idempotencyKey", strings.Repeat("k", 300))},
		{2, form("firstName", "\x00", "lastName", strings.Repeat("é", 200))},
		{3, form("confirmName", "Averill Simen", "force", "true")},
		{4, form("title", "Quiz 1", "type", "Quiz", "score", "5", "version", "1")},
		{0, "%zz=%%&title"},
		{1, "version=1&version=2"},
	} {
		f.Add(seed.path, seed.body)
	}
	paths := []string{
		"/students/1/grades/1", "/students/1/grades/2/remove", "/students/2/rename", "/students/3/remove",
		"/students/1/grades/999", "/students/999/grades/1/remove", "/students/0/rename", "/students/1/grades/01",
	}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		path := paths[int(which)%len(paths)]
		rec := serve(h, http.MethodPost, path, formType, body)
		switch rec.Code {
		case http.StatusSeeOther, http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		default:
			t.Fatalf("POST %s %q = %d\n%s", path, body, rec.Code, rec.Body)
		}
		if rec.Code != http.StatusSeeOther && !strings.Contains(rec.Body.String(), "<!doctype html>") {
			t.Fatalf("POST %s %q = %d without a page", path, body, rec.Code)
		}
	})
}
