package httpx

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A server that records whether a request reached it, behind RequireJSON with POST /text exempt.
func jsonOnlyServer(t *testing.T) (url string, reached func() int) {
	t.Helper()
	n := 0
	h := RequireJSON(func(r *http.Request) bool { return r.URL.Path == "/text" }, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
	}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL, func() int { return n }
}

// onlyReader hides a body's length, so that the client sends it chunked.
type onlyReader struct{ io.Reader }

// A browser may send text/plain (or a form) to any site without asking it first: such a write,
// with JSON inside, is refused on the wire, whether its length is declared or it comes chunked,
// while JSON writes, body-less writes and exempt routes pass.
func TestRequireJSONOverTheWire(t *testing.T) {
	url, reached := jsonOnlyServer(t)
	const grade = `{"title":"Quiz","type":"Quiz","score":100}`
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        io.Reader
		want        int
	}{
		{"text/plain JSON", http.MethodPost, "/grades", "text/plain", strings.NewReader(grade), 415},
		{"text/plain chunked", http.MethodPost, "/grades", "text/plain", onlyReader{strings.NewReader(grade)}, 415},
		{"form", http.MethodPost, "/grades", "application/x-www-form-urlencoded", strings.NewReader("a=b"), 415},
		{"multipart", http.MethodPost, "/grades", "multipart/form-data; boundary=x", strings.NewReader("--x--"), 415},
		{"no content type", http.MethodPut, "/grades", "", strings.NewReader(grade), 415},
		{"no content type chunked", http.MethodPatch, "/grades", "", onlyReader{strings.NewReader(grade)}, 415},
		{"json suffix is not json", http.MethodPost, "/grades", "application/merge-patch+json", strings.NewReader(grade), 415},
		{"unparsable", http.MethodDelete, "/grades", "application/json; charset", strings.NewReader(grade), 415},
		{"json", http.MethodPost, "/grades", "application/json", strings.NewReader(grade), 201},
		{"json chunked", http.MethodPost, "/grades", "application/json", onlyReader{strings.NewReader(grade)}, 201},
		{"json with charset", http.MethodPost, "/grades", "application/json; charset=utf-8", strings.NewReader(grade), 201},
		{"json in capitals", http.MethodPut, "/grades", "Application/JSON; Charset=UTF-8", strings.NewReader(grade), 201},
		{"body-less PUT", http.MethodPut, "/v1/agent/check/pass/x", "", nil, 201},
		{"body-less DELETE", http.MethodDelete, "/grades/1", "", nil, 201},
		{"exempt text route", http.MethodPost, "/text", "text/plain", strings.NewReader("a line"), 201},
		{"exempt route, no type", http.MethodPost, "/text", "", strings.NewReader("a line"), 201},
		{"reads are not checked", http.MethodGet, "/grades", "", nil, 201},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := reached()
			req, err := http.NewRequest(tt.method, url+tt.path, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tt.want, b)
			}
			if got := reached() - before; (tt.want == 201) != (got == 1) {
				t.Errorf("the handler ran %d times", got)
			}
			if tt.want != 415 {
				return
			}
			var e ErrorBody
			if err := json.Unmarshal(b, &e); err != nil || !strings.Contains(e.Error, "application/json") {
				t.Errorf("body = %s, want a JSON error naming application/json", b)
			}
			if got := resp.Header.Get("Accept"); got != "application/json" {
				t.Errorf("Accept = %q, want application/json", got)
			}
		})
	}
}

func TestCarriesBody(t *testing.T) {
	for _, tt := range []struct {
		name   string
		length int64
		te     []string
		want   bool
	}{
		{"none", 0, nil, false},
		{"declared", 3, nil, true},
		{"chunked", -1, []string{"chunked"}, true},
		{"unknown length", -1, nil, true},
	} {
		r := httptest.NewRequest(http.MethodPut, "/", nil)
		r.ContentLength, r.TransferEncoding = tt.length, tt.te
		if got := CarriesBody(r); got != tt.want {
			t.Errorf("%s: CarriesBody = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// The runtime's protection refuses a browser's cross-site writes with a JSON 403 and lets
// everything else through: same-origin writes, reads, and clients that are not browsers.
func TestCrossOriginProtectionAnswersJSON(t *testing.T) {
	n := 0
	h := NewCrossOriginProtection().Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n++ }))
	for _, tt := range []struct {
		name   string
		method string
		hdr    map[string]string
		want   int
	}{
		{"cross-site fetch", http.MethodPost, map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"same-site fetch", http.MethodPut, map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"foreign Origin", http.MethodDelete, map[string]string{"Origin": "http://evil.example"}, 403},
		{"same origin", http.MethodPost, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"}, 200},
		{"typed URL", http.MethodPost, map[string]string{"Sec-Fetch-Site": "none"}, 200},
		{"Origin matching Host", http.MethodPost, map[string]string{"Origin": "http://example.com"}, 200},
		{"not a browser", http.MethodPost, nil, 200},
		{"cross-site read", http.MethodGet, map[string]string{"Sec-Fetch-Site": "cross-site"}, 200},
	} {
		r := httptest.NewRequest(tt.method, "http://example.com/x", strings.NewReader("{}"))
		for k, v := range tt.hdr {
			r.Header.Set(k, v)
		}
		before := n
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("%s: status = %d, want %d", tt.name, w.Code, tt.want)
		}
		if tt.want == 403 {
			if n != before {
				t.Errorf("%s: the handler ran", tt.name)
			}
			if !strings.Contains(w.Body.String(), `"error":"`+CrossOriginRefusal) {
				t.Errorf("%s: body = %s", tt.name, w.Body)
			}
		}
	}
}

func FuzzCheckJSONMediaType(f *testing.F) {
	for _, s := range []string{"", "application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
		"text/plain", "application/json;", "application/json; charset", `application/json; a="b;c"`, "application/jsonx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ct string) {
		err := CheckJSONMediaType(ct)
		// Whatever it says, it says it about JSON; and what it accepts starts with the type.
		if err != nil && !strings.Contains(err.Error(), JSONMediaType) {
			t.Errorf("%q: error %q does not name %s", ct, err, JSONMediaType)
		}
		if err == nil && !strings.EqualFold(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0]), JSONMediaType) {
			t.Errorf("%q was accepted as JSON", ct)
		}
	})
}
