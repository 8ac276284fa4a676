package openapitest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that keeps what Errorf reports instead of failing.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

const doc = `{
  "openapi": "3.1.0",
  "info": {"title": "t", "version": "1"},
  "servers": [{"url": "/v1"}],
  "paths": {
    "/things/{id}": {
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
      "put": {
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}}}},
        "responses": {
          "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object", "required": ["n"], "additionalProperties": false, "properties": {"n": {"type": "integer"}}}}}},
          "400": {"description": "bad", "content": {"application/json": {"schema": {"type": "object"}}}}
        }
      }
    }
  }
}`

// TestTransportCatchesDrift: each kind of mismatch between the server and the document is
// reported, and a matching exchange is not.
func TestTransportCatchesDrift(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet:
			io.WriteString(w, `{"n":1}`) // a route the document leaves out
		case r.URL.Path != "/v1/things/1":
			w.WriteHeader(404)
			io.WriteString(w, `{"error":"no such route"}`)
		case strings.Contains(string(b), "extra"):
			io.WriteString(w, `{"n":1,"extra":true}`) // an undocumented field
		case strings.Contains(string(b), "teapot"):
			w.WriteHeader(418) // an undocumented status
			io.WriteString(w, `{}`)
		default:
			io.WriteString(w, `{"n":1}`) // answers 200 even to an invalid request
		}
	}))
	defer srv.Close()
	cases := []struct {
		name, method, path, body string
		wantErr                  string
	}{
		{"matching", "PUT", "/v1/things/1", `{"n":1}`, ""},
		{"invalid request accepted", "PUT", "/v1/things/1", `{"n":"one"}`, "not valid by the document"},
		{"undocumented field", "PUT", "/v1/things/1", `{"n":1,"x":"extra"}`, "does not match"},
		{"undocumented status", "PUT", "/v1/things/1", `{"n":1,"x":"teapot"}`, "does not match"},
		{"unknown route answered 404", "PUT", "/v1/nothing", `{}`, ""},
		{"undocumented route served", "GET", "/v1/things/1", ``, "is not in the document"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			c := &http.Client{Transport: NewTransport(rec, []byte(doc), srv.URL, nil)}
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := strings.Join(rec.errors, "\n")
			if tc.wantErr == "" && got != "" || tc.wantErr != "" && !strings.Contains(got, tc.wantErr) {
				t.Fatalf("reported %q; want %q", got, tc.wantErr)
			}
		})
	}
}
