package portal

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/boltstore"
	"github.com/gradebook/gradebook/pkg/httpx"
)

// fuzzHandler is the portal over the real grading service in-process (no network, so that a
// fuzzer can run many cases a second), with the demo students.
func fuzzHandler(f *testing.F) http.Handler {
	f.Helper()
	store, err := boltstore.Open(filepath.Join(f.TempDir(), "grading.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	if _, err := grading.SeedDemo(context.Background(), store); err != nil {
		f.Fatal(err)
	}
	r := httpx.NewRouter()
	if err := AddRoutes(r, Deps{Grading: grading.MakeServerEndpoints(grading.NewService(store))}); err != nil {
		f.Fatal(err)
	}
	return httpx.WithRequestIDs(r)
}

func serve(h http.Handler, method, path, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// FuzzGradeForm posts arbitrary bodies to the add-grade form: the answer is always a redirect or
// a readable 4xx page, never a 500 or a panic.
func FuzzGradeForm(f *testing.F) {
	h := fuzzHandler(f)
	for _, seed := range []string{
		form("title", "Quiz 3", "type", "Quiz", "score", "90"),
		form("title", "", "type", "Exam", "score", "NaN"),
		form("title", "x", "type", "Test", "score", "1e309"),
		form("title", "x", "type", "Test", "score", "-0", "idempotencyKey", strings.Repeat("k", 300)),
		"%zz=%%&title",
		"title=a&title=b&score=50&score=x",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rec := serve(h, http.MethodPost, "/students/1/grades", formType, body)
		switch rec.Code {
		case http.StatusSeeOther, http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		default:
			t.Fatalf("POST %q = %d\n%s", body, rec.Code, rec.Body)
		}
		if rec.Code != http.StatusSeeOther && !strings.Contains(rec.Body.String(), "<!doctype html>") {
			t.Fatalf("POST %q = %d without a page", body, rec.Code)
		}
	})
}

// FuzzGatewayGrade posts arbitrary JSON to the gateway: grading's answers and clean 4xx JSON
// errors only.
func FuzzGatewayGrade(f *testing.F) {
	h := fuzzHandler(f)
	for _, seed := range []string{
		`{"title":"Quiz 3","type":"Quiz","score":90}`,
		`{"Title":"Quiz 3","Type":"Quiz","Score":90}`,
		`{"title":"x","type":"Quiz","score":1e400}`,
		`{"title":"x","type":"Quiz","score":"90"}`,
		`[]`, `null`, `{"title":"x"} {"title":"y"}`, ``, `{`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rec := serve(h, http.MethodPost, "/api/v1/students/2/grades", "application/json", body)
		switch rec.Code {
		case http.StatusCreated, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("POST %q = %d\n%s", body, rec.Code, rec.Body)
		}
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("POST %q answered %q", body, rec.Header().Get("Content-Type"))
		}
	})
}
