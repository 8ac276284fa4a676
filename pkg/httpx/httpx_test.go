package httpx

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gradebook/gradebook/pkg/requestid"
)

func TestDecodeJSONErrors(t *testing.T) {
	type body struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	tests := []struct {
		name   string
		body   string
		status int
		reason string
	}{
		{"ok", `{"name":"a","count":1}`, 200, ""},
		{"empty", ``, 400, "empty"},
		{"malformed", `{"name":`, 400, "truncated"},
		{"syntax", `{"name" 1}`, 400, "malformed JSON"},
		{"wrong type", `{"count":"x"}`, 400, "count must be int"},
		{"two values", `{} {}`, 400, "single JSON value"},
		{"too large", `{"name":"` + strings.Repeat("a", MaxBody) + `"}`, 413, "1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var b body
				if err := DecodeJSON(w, r, &b); err != nil {
					WriteError(w, err)
					return
				}
				WriteJSON(w, 200, b)
			})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body)))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.reason == "" {
				return
			}
			var e ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
				t.Fatalf("error body is not JSON: %q", rec.Body)
			}
			if !strings.Contains(e.Error, tt.reason) {
				t.Errorf("error %q does not say %q", e.Error, tt.reason)
			}
		})
	}
}

func TestRouterNotFoundAndMethodNotAllowed(t *testing.T) {
	r := NewRouter()
	r.HandleFunc("/things", func(w http.ResponseWriter, _ *http.Request) {}).Methods(http.MethodGet)
	r.HandleFunc("/things", func(w http.ResponseWriter, _ *http.Request) {}).Methods(http.MethodPost)

	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/things", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("status %d, want 405", rec.Code)
	}
	if got := rec.Header().Get("Allow"); got != "GET, POST" {
		t.Errorf("Allow = %q, want %q", got, "GET, POST")
	}
	rec = httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/nothing", nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `"error"`) {
		t.Errorf("unknown route: %d %s", rec.Code, rec.Body)
	}
}

func TestRequireTokenForWrites(t *testing.T) {
	h := RequireTokenForWrites("s3cret", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	tests := []struct {
		method, header, value string
		status                int
	}{
		{http.MethodGet, "", "", 200},
		{http.MethodPut, "", "", 401},
		{http.MethodPut, "Authorization", "Bearer nope", 401},
		{http.MethodPut, "Authorization", "Bearer s3cret", 200},
		{http.MethodPost, "X-Consul-Token", "s3cret", 200},
		{http.MethodDelete, "X-Consul-Token", "s3cre", 401},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, "/", nil)
		if tt.header != "" {
			req.Header.Set(tt.header, tt.value)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.status {
			t.Errorf("%s with %s=%q: status %d, want %d", tt.method, tt.header, tt.value, rec.Code, tt.status)
		}
	}
}

func TestRequestIDKeptOrMade(t *testing.T) {
	var seen string
	h := WithRequestIDs(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = requestid.FromContext(r.Context()) }))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(RequestIDHeader, "abc-123")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if seen != "abc-123" || rec.Header().Get(RequestIDHeader) != "abc-123" {
		t.Errorf("caller's ID not kept: ctx %q, header %q", seen, rec.Header().Get(RequestIDHeader))
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if seen == "" || seen != rec.Header().Get(RequestIDHeader) {
		t.Errorf("no ID made: ctx %q, header %q", seen, rec.Header().Get(RequestIDHeader))
	}
}

func TestRecoverAnswersJSON(t *testing.T) {
	var reported any
	h := Recover(func(_ *http.Request, v any) { reported = v }, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "internal error") || reported != "boom" {
		t.Errorf("got %d %q, reported %v", rec.Code, rec.Body, reported)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"a":1}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var v map[string]any
		err := DecodeJSONBytes(b, &v)
		if err != nil && StatusOf(err) != http.StatusBadRequest {
			t.Fatalf("decode error %v maps to %d, want 400", err, StatusOf(err))
		}
	})
}

// The request ID's header is read and written by its canonical key, without net/http's help.
func TestRequestIDKeyIsCanonical(t *testing.T) {
	if got := http.CanonicalHeaderKey(RequestIDHeader); got != requestIDKey {
		t.Fatalf("canonical %s = %s, the key used is %s", RequestIDHeader, got, requestIDKey)
	}
}

// TestBearerTransport: a request without Authorization goes out with the token, over a real
// socket; one with its own keeps it; and the caller's request is never changed.
func TestBearerTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.Header.Get("Authorization") + "|" + r.Header.Get("X-Other")))
	}))
	defer srv.Close()
	client := &http.Client{Transport: &BearerTransport{Token: "s3cret", Base: srv.Client().Transport}}
	for _, tc := range []struct{ own, want string }{
		{"", "Bearer s3cret|kept"},
		{"Bearer mine", "Bearer mine|kept"},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("X-Other", "kept")
		if tc.own != "" {
			req.Header.Set("Authorization", tc.own)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		resp.Body.Close()
		if b.String() != tc.want {
			t.Errorf("server saw %q, want %q", b.String(), tc.want)
		}
		if got := req.Header.Get("Authorization"); got != tc.own {
			t.Errorf("the caller's request now has Authorization %q, want %q", got, tc.own)
		}
		if want := map[bool]int{false: 1, true: 2}[tc.own != ""]; len(req.Header) != want {
			t.Errorf("the caller's headers changed: %v", req.Header)
		}
	}
}

type appender struct {
	Name string `json:"name"`
	fail bool
}

func (a appender) AppendJSON(b []byte) ([]byte, error) {
	if a.fail {
		return b, errors.New("cannot")
	}
	return append(b, `{"appended":true}`...), nil
}

// TestWriteJSONUsesAppenders: a JSONAppender writes its own bytes; one that fails is marshalled.
func TestWriteJSONUsesAppenders(t *testing.T) {
	for _, tc := range []struct {
		v    appender
		want string
	}{
		{appender{Name: "x"}, "{\"appended\":true}\n"},
		{appender{Name: "x", fail: true}, "{\"name\":\"x\"}\n"},
	} {
		rec := httptest.NewRecorder()
		WriteJSON(rec, 201, tc.v)
		if rec.Code != 201 || rec.Body.String() != tc.want || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("WriteJSON(%+v): %d %q %q, want 201 %q", tc.v, rec.Code, rec.Header().Get("Content-Type"), rec.Body.String(), tc.want)
		}
	}
}
