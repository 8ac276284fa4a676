package httpx

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gradebook/gradebook/pkg/errs"
)

// JSON bodies with invalid UTF-8, the way an attacker sends them: encoding/json would decode each
// into a string holding U+FFFD.
var invalidUTF8Bodies = []struct{ body, field string }{
	{"{\"title\":\"a\xffb\"}", "title"},
	{"{\"title\":\"\xed\xa0\x80\"}", "title"}, // a UTF-16 surrogate encoded as UTF-8
	{"{\"title\":\"\xc0\xaf\"}", "title"},     // an overlong "/"
	{"{\"a\":{\"b\":[\"x\",\"\xff\"]}}", "a.b[1]"},
	{"[{\"x\":1},{\"y\":[1,{\"z\":\"\xfe\"}]}]", "[1].y[1].z"},
	{"{\"Meta\":{\"k\xff\":\"v\"}}", "Meta (a key)"},
	{"\"\xff\"", "body"},
}

func TestInvalidUTF8IsRefusedNamingTheField(t *testing.T) {
	for _, tc := range invalidUTF8Bodies {
		var v any
		err := DecodeJSONBytes([]byte(tc.body), &v)
		var fe errs.FieldErrors
		if !errors.As(err, &fe) || fe[tc.field] != "must be valid UTF-8 text" || StatusOf(err) != http.StatusBadRequest {
			t.Errorf("DecodeJSONBytes(%q) = %v (%d); want a 400 naming %s", tc.body, err, StatusOf(err), tc.field)
		}
	}
	// Valid text, escapes of U+FFFD included, is not refused.
	for _, body := range []string{`{"title":"Zoë \ufffd"}`, "{\"title\":\"\xef\xbf\xbd\"}", `{"t":"\ud83d\ude00"}`} {
		var v any
		if err := DecodeJSONBytes([]byte(body), &v); err != nil {
			t.Errorf("DecodeJSONBytes(%q) = %v; want it decoded", body, err)
		}
	}
}

// gorilla/mux answered an unclean path with an empty 301 to the cleaned one; the router answers
// it with its NotFoundHandler, whichever that is when the request comes.
func TestRouterAnswersUncleanPathsWith404NotRedirect(t *testing.T) {
	r := NewRouter()
	r.HandleFunc("/things/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }).Methods(http.MethodGet, http.MethodPut)
	for _, p := range []string{"/things/../things/1", "/things/./1", "//things/1", "/things//1", "/things/1/..", "/things/1/.", "/things/%2e%2e"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPut, "http://h"+p, nil)
		r.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `"error"`) || rec.Header().Get("Location") != "" {
			t.Errorf("PUT %s = %d %q (Location %q); want a JSON 404", p, rec.Code, rec.Body, rec.Header().Get("Location"))
		}
	}
	// An ID that is itself "..": deregistering it must not turn into another route either.
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/things/1", nil))
	if rec.Code != http.StatusNoContent {
		t.Errorf("GET /things/1 = %d; want the route", rec.Code)
	}
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	rec = httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/things/../x", nil))
	if rec.Code != http.StatusTeapot {
		t.Errorf("an unclean path after the NotFoundHandler changed = %d; want that handler's answer", rec.Code)
	}
}

func FuzzDecodeJSONRefusesInvalidUTF8(f *testing.F) {
	for _, tc := range invalidUTF8Bodies {
		f.Add([]byte(tc.body))
	}
	f.Add([]byte(`{"a":"\ufffd"}`))
	f.Add([]byte(`{"title":"Quiz 1","type":"Quiz","score":85}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var v any
		err := DecodeJSONBytes(b, &v)
		if err == nil && !utf8.Valid(b) {
			t.Fatalf("DecodeJSONBytes(%q) accepted invalid UTF-8", b)
		}
		if err != nil && StatusOf(err) != http.StatusBadRequest {
			t.Fatalf("DecodeJSONBytes(%q) = %v, status %d; want 400", b, err, StatusOf(err))
		}
		if field, ok := InvalidUTF8Field(b); ok && (field == "" || utf8.Valid(b)) {
			t.Fatalf("InvalidUTF8Field(%q) = %q for a body that is valid UTF-8", b, field)
		}
	})
}

func FuzzUncleanPath(f *testing.F) {
	for _, p := range []string{"/", "/a/b", "/a/b/", "/a/../b", "/./a", "//a", "/a//b", "a", "", "/..", "/.", "/a/.b", "/a/..b", "/a/b.."} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		clean := path.Clean(p)
		if strings.HasSuffix(p, "/") && clean != "/" {
			clean += "/"
		}
		want := !strings.HasPrefix(p, "/") || clean != p
		if UncleanPath(p) != want {
			t.Fatalf("UncleanPath(%q) = %v, but path.Clean makes it %q", p, UncleanPath(p), clean)
		}
	})
}
