package httpserver_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-kit/log"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingtest"
	"github.com/gradebook/gradebook/grading/httpserver"
	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/pkg/idempotency"
)

func newHandler(t testing.TB) http.Handler {
	t.Helper()
	return httpserver.NewHandler(grading.MakeServerEndpoints(gradingtest.NewDemoService(t)), log.NewNopLogger())
}

func TestHTTPRoutes(t *testing.T) {
	big := `{"title":"` + strings.Repeat("x", httpx.MaxBody) + `","type":"Quiz","score":1}`
	tests := []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
		contains                 string // in the body
		allow                    string // the Allow header of a 405
	}{
		{"list", "GET", "/students", "", nil, 200, `"firstName":"Averill"`, ""},
		{"get", "GET", "/students/1", "", nil, 200, `"average":87`, ""},
		{"get unknown", "GET", "/students/99", "", nil, 404, `"error":"no such student"`, ""},
		{"get id zero", "GET", "/students/0", "", nil, 404, `"error"`, ""},
		{"get negative id", "GET", "/students/-1", "", nil, 404, `"error"`, ""},
		{"get non-numeric id", "GET", "/students/abc", "", nil, 404, `"error"`, ""},
		{"get overflowing id", "GET", "/students/99999999999999999999999999", "", nil, 404, `"error"`, ""},
		{"add student", "POST", "/students", `{"firstName":"Ann","lastName":"Lee"}`, nil, 201, `"id":6`, ""},
		{"add student invalid", "POST", "/students", `{"firstName":"","lastName":"Lee"}`, nil, 400, `"fields":{"firstName"`, ""},
		{"add student malformed", "POST", "/students", `{"firstName":`, nil, 400, `"error"`, ""},
		{"add student empty body", "POST", "/students", ``, nil, 400, `empty`, ""},
		{"add student wrong JSON type", "POST", "/students", `{"firstName":3}`, nil, 400, `"error"`, ""},
		{"add student too large", "POST", "/students", `{"firstName":"` + strings.Repeat("x", httpx.MaxBody) + `"}`, nil, 413, `1 MiB`, ""},
		{"add grade", "POST", "/students/1/grades", `{"title":"Quiz 3","type":"Quiz","score":90}`, nil, 201, `"version":1,"title":"Quiz 3","type":"Quiz","score":90,"enteredAt":"`, ""},
		{"add grade invalid", "POST", "/students/1/grades", `{"title":"Quiz 3","type":"Exam","score":190}`, nil, 400, `"fields":{"score"`, ""},
		{"add grade malformed", "POST", "/students/1/grades", `{"title"`, nil, 400, `"error"`, ""},
		{"add grade two values", "POST", "/students/1/grades", `{"title":"a","type":"Quiz","score":1}{}`, nil, 400, `single JSON value`, ""},
		{"add grade score as string", "POST", "/students/1/grades", `{"title":"a","type":"Quiz","score":"90"}`, nil, 400, `score`, ""},
		{"add grade huge number", "POST", "/students/1/grades", `{"title":"a","type":"Quiz","score":1e999}`, nil, 400, `"error"`, ""},
		{"add grade too large", "POST", "/students/1/grades", big, nil, 413, `1 MiB`, ""},
		{"add grade unknown student", "POST", "/students/99/grades", `{"title":"a","type":"Quiz","score":1}`, nil, 404, `no such student`, ""},
		{"add grade bad id", "POST", "/students/x/grades", `{"title":"a","type":"Quiz","score":1}`, nil, 404, `"error"`, ""},
		{"add grade key too long", "POST", "/students/1/grades", `{"title":"a","type":"Quiz","score":1}`, map[string]string{idempotency.Header: strings.Repeat("k", 300)}, 400, `idempotencyKey`, ""},
		{"wrong method on a student", "PUT", "/students/1", "", nil, 405, `"error"`, "GET, PATCH, DELETE"},
		{"wrong method on grades", "GET", "/students/1/grades", "", nil, 405, `"error"`, "POST"},
		{"wrong method on students", "PUT", "/students", "", nil, 405, `"error"`, "GET, POST"},
		{"unknown route", "GET", "/teachers", "", nil, 404, `no such route`, ""},
	}
	h := newHandler(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Errorf("body is not JSON: %s", rec.Body)
			}
			if !strings.Contains(rec.Body.String(), tt.contains) {
				t.Errorf("body = %s, want it to contain %s", rec.Body, tt.contains)
			}
			if got := rec.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			if rec.Header().Get(httpx.RequestIDHeader) == "" {
				t.Error("no X-Request-ID on the answer")
			}
		})
	}
}

func TestHTTPIdempotencyKey(t *testing.T) {
	h := newHandler(t)
	post := func(score string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/students/2/grades", strings.NewReader(`{"title":"Quiz 3","type":"Quiz","score":`+score+`}`))
		req.Header.Set(idempotency.Header, "abc-123")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	first, second := post("90"), post("90")
	if first.Code != 201 || second.Code != 201 || first.Body.String() != second.Body.String() {
		t.Errorf("same key twice: %d %s / %d %s; want the same 201 answer", first.Code, first.Body, second.Code, second.Body)
	}
	if third := post("91"); third.Code != http.StatusConflict {
		t.Errorf("same key, other grade: %d %s; want 409", third.Code, third.Body)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/students/2", nil))
	var st grading.Student
	json.Unmarshal(rec.Body.Bytes(), &st)
	if len(st.Grades) != 4 {
		t.Errorf("student has %d grades, want the 3 demo grades plus one", len(st.Grades))
	}
}

// TestOriginalPortalCompatibility sends and reads exactly what the course's original teacher
// portal does: capitalised keys, decoded case-insensitively on both sides.
func TestOriginalPortalCompatibility(t *testing.T) {
	srv := httptest.NewServer(newHandler(t))
	defer srv.Close()
	defer srv.Client().CloseIdleConnections()

	resp, err := srv.Client().Post(srv.URL+"/students/1/grades", "application/json",
		strings.NewReader(`{"Title":"Quiz 3","Type":"Quiz","Score":90}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("original grade post: %s, want 201", resp.Status)
	}

	// The original portal's types, as it declares them.
	type GradeType string
	type origGrade struct {
		Title string
		Type  GradeType
		Score float32
	}
	type origStudent struct {
		ID        int
		FirstName string
		LastName  string
		Grades    []origGrade
	}
	resp, err = srv.Client().Get(srv.URL + "/students")
	if err != nil {
		t.Fatal(err)
	}
	var students []origStudent
	err = json.NewDecoder(resp.Body).Decode(&students)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(students) != 5 || students[0].ID != 1 || students[0].FirstName != "Averill" || students[0].LastName != "Simen" {
		t.Fatalf("original portal read %+v", students)
	}
	got := students[0].Grades[len(students[0].Grades)-1]
	if got != (origGrade{"Quiz 3", "Quiz", 90}) {
		t.Errorf("original portal read the new grade as %+v", got)
	}
}
