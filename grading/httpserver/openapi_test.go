package httpserver_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/grading/gradingtest"
	"github.com/gradebook/gradebook/openapi"
	"github.com/gradebook/gradebook/openapi/openapitest"
)

// TestOpenAPIDocument drives every operation of grading's HTTP API, the good and the bad way,
// through a client that checks each request and answer against the document served at
// /openapi.json (openapitest.Transport), so that the document cannot drift from the code.
func TestOpenAPIDocument(t *testing.T) {
	srv := gradingtest.ServeHTTP(t, gradingtest.NewDemoService(t))
	tr := openapitest.NewTransport(t, openapi.Grading(), srv.URL, nil)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	steps := []struct {
		method, path, body string
		header             []string
		status             int
		contains           string
	}{
		{"GET", "/openapi.json", "", nil, 200, `"openapi": "3.1.0"`},
		{"GET", "/students", "", nil, 200, `"firstName":"Averill"`},
		{"GET", "/students/1", "", nil, 200, `"grades"`},
		{"GET", "/students/0", "", nil, 404, "no such student"},
		{"POST", "/students", `{"firstName":"Ada","lastName":"Lovelace"}`, nil, 201, `"id":6`},
		{"POST", "/students", `{"firstName":"","lastName":"Lovelace"}`, nil, 400, `"fields"`},
		{"POST", "/students", `{"firstName":`, nil, 400, "error"},
		{"POST", "/students/6/grades", `{"title":"Quiz 1","type":"Quiz","score":70}`, []string{"Idempotency-Key", "k1"}, 201, `"version":1`},
		{"POST", "/students/6/grades", `{"title":"Quiz 1","type":"Quiz","score":70}`, []string{"Idempotency-Key", "k1"}, 201, `"version":1`},
		{"POST", "/students/6/grades", `{"Title":"Quiz 2","Type":"Quiz","Score":80}`, nil, 201, `"title":"Quiz 2"`},
		{"POST", "/students/6/grades", `{"title":"Quiz 3","type":"Exam","score":80}`, nil, 400, `"type"`},
		{"POST", "/students/999/grades", `{"title":"Quiz 3","type":"Quiz","score":80}`, nil, 404, "no such student"},
		{"GET", "/students/1/grades/1", "", nil, 200, `"version":1`},
		{"GET", "/students/2/grades/1", "", nil, 404, "no such grade"},
		{"PATCH", "/students/1/grades/1", `{"score":90,"changedBy":"krabappel"}`, []string{"If-Match", `"1"`}, 200, `"version":2`},
		{"PATCH", "/students/1/grades/1", `{"score":91}`, []string{"If-Match", `"1"`}, 412, "changed since"},
		{"PATCH", "/students/1/grades/1", `{"score":91}`, []string{"If-Match", "2"}, 400, "If-Match"},
		{"PATCH", "/students/1/grades/1", `{}`, nil, 400, `"change"`},
		{"PATCH", "/students/1/grades/1", `{"title":"Quiz 1b"}`, []string{"Idempotency-Key", "c1"}, 200, `"version":3`},
		{"PATCH", "/students/1/grades/1", `{"title":"Quiz 1b"}`, []string{"Idempotency-Key", "c1"}, 200, `"version":3`},
		{"PATCH", "/students/1/grades/1", `{"title":"Quiz 1c"}`, []string{"Idempotency-Key", "c1"}, 409, "error"},
		{"DELETE", "/students/1/grades/1", `{"changedBy":"krabappel"}`, []string{"If-Match", `"2"`}, 412, "changed since"},
		{"DELETE", "/students/1/grades/1", `{"changedBy":"krabappel"}`, []string{"If-Match", `"3"`}, 204, ""},
		{"DELETE", "/students/1/grades/1", "", nil, 404, "no such grade"},
		{"GET", "/students/1/history", "", nil, 200, `"action":"removed"`},
		{"GET", "/students/999/history", "", nil, 404, "no such student"},
		{"PATCH", "/students/6", `{"firstName":"Augusta Ada","lastName":"King"}`, nil, 200, `"lastName":"King"`},
		{"PATCH", "/students/6", `{"firstName":"Augusta Ada"}`, nil, 400, `"lastName"`},
		{"DELETE", "/students/6", "", nil, 409, "still has grades"},
		{"DELETE", "/students/6?force=yes", "", nil, 400, `"force"`},
		{"DELETE", "/students/6?force=true", "", nil, 204, ""},
		{"PUT", "/students/1", `{}`, nil, 405, "error"},
		{"GET", "/nothing", "", nil, 404, "error"},
	}
	for _, s := range steps {
		var body io.Reader
		if s.body != "" {
			body = strings.NewReader(s.body)
		}
		req, err := http.NewRequest(s.method, srv.URL+s.path, body)
		if err != nil {
			t.Fatal(err)
		}
		if s.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(s.header); i += 2 {
			req.Header.Set(s.header[i], s.header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != s.status || !strings.Contains(string(b), s.contains) {
			t.Errorf("%s %s = %d %s; want %d containing %q", s.method, s.path, resp.StatusCode, b, s.status, s.contains)
		}
	}
	seen := tr.Operations()
	for path, item := range openapitest.Load(t, openapi.Grading()).Paths.Map() {
		for method := range item.Operations() {
			if !seen[method+" "+path] {
				t.Errorf("no exchange of %s %s was checked against the document", method, path)
			}
		}
	}
}
