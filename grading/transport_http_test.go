package grading

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/log"

	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/httpx"
)

var _ Service = Endpoints{} // a client built from endpoints is a Service

func newHandler(t testing.TB) http.Handler {
	t.Helper()
	store := &memStore{}
	if _, err := SeedDemo(context.Background(), store); err != nil {
		t.Fatal(err)
	}
	return MakeHTTPHandler(MakeServerEndpoints(NewService(store)), log.NewNopLogger())
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
		{"add grade", "POST", "/students/1/grades", `{"title":"Quiz 3","type":"Quiz","score":90}`, nil, 201, `{"title":"Quiz 3","type":"Quiz","score":90}`, ""},
		{"add grade invalid", "POST", "/students/1/grades", `{"title":"Quiz 3","type":"Exam","score":190}`, nil, 400, `"fields":{"score"`, ""},
		{"add grade malformed", "POST", "/students/1/grades", `{"title"`, nil, 400, `"error"`, ""},
		{"add grade two values", "POST", "/students/1/grades", `{"title":"a","type":"Quiz","score":1}{}`, nil, 400, `single JSON value`, ""},
		{"add grade score as string", "POST", "/students/1/grades", `{"title":"a","type":"Quiz","score":"90"}`, nil, 400, `score`, ""},
		{"add grade huge number", "POST", "/students/1/grades", `{"title":"a","type":"Quiz","score":1e999}`, nil, 400, `"error"`, ""},
		{"add grade too large", "POST", "/students/1/grades", big, nil, 413, `1 MiB`, ""},
		{"add grade unknown student", "POST", "/students/99/grades", `{"title":"a","type":"Quiz","score":1}`, nil, 404, `no such student`, ""},
		{"add grade bad id", "POST", "/students/x/grades", `{"title":"a","type":"Quiz","score":1}`, nil, 404, `"error"`, ""},
		{"add grade key too long", "POST", "/students/1/grades", `{"title":"a","type":"Quiz","score":1}`, map[string]string{IdempotencyKeyHeader: strings.Repeat("k", 300)}, 400, `idempotencyKey`, ""},
		{"wrong method on a student", "DELETE", "/students/1", "", nil, 405, `"error"`, "GET"},
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
		req.Header.Set(IdempotencyKeyHeader, "abc-123")
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
	var st Student
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

// TestEndpointsCarryBusinessErrorsInTheResponse checks the contract breakers and retries rely
// on: a 404 or a validation failure is a Failer response, not an endpoint error.
func TestEndpointsCarryBusinessErrorsInTheResponse(t *testing.T) {
	local := MakeServerEndpoints(NewService(&memStore{}))
	remote := newHTTPClient(t, NewService(&memStore{}))
	for name, eps := range map[string]Endpoints{"local": local, "http": remote} {
		ctx := context.Background()
		resp, err := eps.GetStudentEndpoint(ctx, GetStudentRequest{ID: 7})
		if err != nil {
			t.Errorf("%s: GetStudent(7) endpoint error %v, want a Failer response", name, err)
		} else if f, ok := resp.(endpoint.Failer); !ok || !errors.Is(f.Failed(), ErrStudentNotFound) {
			t.Errorf("%s: GetStudent(7) = %#v, want a Failer with ErrStudentNotFound", name, resp)
		}
		resp, err = eps.AddGradeEndpoint(ctx, AddGradeRequest{StudentID: 1, Grade: Grade{Score: 500}})
		if err != nil {
			t.Errorf("%s: invalid grade endpoint error %v", name, err)
		} else if f, ok := resp.(endpoint.Failer); !ok || !errors.Is(f.Failed(), errs.ErrInvalid) {
			t.Errorf("%s: invalid grade = %#v, want a Failer with ErrInvalid", name, resp)
		}
	}
}

func TestHTTPClientRequests(t *testing.T) {
	type seen struct {
		method, path, requestID, idemKey string
		body                             []byte
		contentLength                    int64
		transferEncoding                 []string
	}
	var last atomic.Pointer[seen]
	var conns atomic.Int32
	h := newHandler(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		last.Store(&seen{r.Method, r.URL.Path, r.Header.Get(httpx.RequestIDHeader), r.Header.Get(IdempotencyKeyHeader), b, r.ContentLength, r.TransferEncoding})
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		h.ServeHTTP(w, r)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	client := &http.Client{}
	defer srv.Close()
	defer client.CloseIdleConnections()
	eps, err := MakeHTTPClientEndpoints(srv.Listener.Addr().String(), client)
	if err != nil {
		t.Fatal(err)
	}
	ctx := httpx.WithRequestID(context.Background(), "req-42")

	for i := 0; i < 20; i++ {
		if _, err := eps.GetStudent(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := eps.GetStudent(ctx, 99); !errors.Is(err, ErrStudentNotFound) {
			t.Fatalf("GetStudent(99) = %v", err)
		}
	}
	got := last.Load()
	if got.method != "GET" || got.path != "/students/99" || len(got.body) != 0 || got.contentLength != 0 || len(got.transferEncoding) != 0 {
		t.Errorf("GET sent %+v; want no body at all (not even JSON null)", got)
	}
	if got.requestID != "req-42" {
		t.Errorf("X-Request-ID = %q, want the caller's req-42", got.requestID)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("40 sequential calls (200s and 404s) opened %d connections, want 1: answers must be drained and closed", n)
	}

	if _, err := eps.AddGrade(ctx, 1, Grade{"Quiz 3", TypeQuiz, 90}, "k-1"); err != nil {
		t.Fatal(err)
	}
	if got := last.Load(); got.idemKey != "k-1" || !strings.Contains(string(got.body), `"title":"Quiz 3"`) {
		t.Errorf("AddGrade sent %+v, want Idempotency-Key k-1 and the grade", got)
	}
	if _, err := eps.AddGrade(ctx, 1, Grade{"Quiz 4", TypeQuiz, 90}, ""); err != nil {
		t.Fatal(err)
	}
	if got := last.Load(); got.idemKey != "" {
		t.Errorf("AddGrade without a key sent Idempotency-Key %q", got.idemKey)
	}
}

// TestHTTPClientTransportFailures checks that failures of the instance, unlike business
// errors, come back as endpoint errors, so that breakers and retries see them.
func TestHTTPClientTransportFailures(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"500", func(w http.ResponseWriter, r *http.Request) { httpx.Error(w, 500, "internal error") }},
		{"503", func(w http.ResponseWriter, r *http.Request) { httpx.Error(w, 503, "shutting down") }},
		{"502 from a proxy, not JSON", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "bad gateway", 502) }},
		{"garbled 200", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>") }},
		{"429", func(w http.ResponseWriter, r *http.Request) { httpx.Error(w, 429, "slow down") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			eps, _ := MakeHTTPClientEndpoints(srv.URL, srv.Client())
			defer srv.Client().CloseIdleConnections()
			resp, err := eps.GetStudentEndpoint(context.Background(), GetStudentRequest{ID: 1})
			if err == nil {
				t.Errorf("endpoint answered %#v, nil; want a transport error", resp)
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		eps, _ := MakeHTTPClientEndpoints(addr, &http.Client{})
		if _, err := eps.ListStudentsEndpoint(context.Background(), ListStudentsRequest{}); err == nil {
			t.Error("refused connection gave no endpoint error")
		}
	})
	t.Run("bad instance", func(t *testing.T) {
		if _, err := MakeHTTPClientEndpoints("ftp://x", nil); err == nil {
			t.Error("ftp:// instance accepted")
		}
	})
}
