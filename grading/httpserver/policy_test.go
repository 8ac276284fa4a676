package httpserver_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gradebook/gradebook/grading/gradingtest"
	"github.com/gradebook/gradebook/pkg/httpx"
)

// policyClient never follows redirects, so that a test sees a 301 as the 301 it is.
func policyClient(t *testing.T) *http.Client {
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// send makes one request over the socket and answers the status and the decoded error body.
func send(t *testing.T, c *http.Client, method, url, body string) (int, httpx.ErrorBody, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var eb httpx.ErrorBody
	_ = json.Unmarshal(raw, &eb)
	return resp.StatusCode, eb, string(raw)
}

// Invalid UTF-8 in a JSON string would be replaced by U+FFFD by encoding/json and stored as text
// nobody sent; it is refused instead, naming the field, and nothing is stored.
func TestInvalidUTF8IsRefusedNotReplaced(t *testing.T) {
	srv := gradingtest.ServeHTTP(t, gradingtest.NewDemoService(t))
	c := policyClient(t)
	for _, tc := range []struct{ name, path, body, field string }{
		{"grade title", "/students/1/grades", "{\"title\":\"Quiz \xff\",\"type\":\"Quiz\",\"score\":1}", "title"},
		{"grade type", "/students/1/grades", "{\"title\":\"Quiz\",\"type\":\"Qu\xc0iz\",\"score\":1}", "type"},
		{"first name", "/students", "{\"firstName\":\"Ann\xed\xa0\x80\",\"lastName\":\"Lee\"}", "firstName"},
		{"last name, original casing", "/students", "{\"FirstName\":\"Ann\",\"LastName\":\"\xfe\"}", "LastName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, eb, raw := send(t, c, http.MethodPost, srv.URL+tc.path, tc.body)
			if code != http.StatusBadRequest || eb.Fields[tc.field] != "must be valid UTF-8 text" {
				t.Fatalf("POST %s with invalid UTF-8 in %s = %d %s; want 400 naming %s", tc.path, tc.field, code, raw, tc.field)
			}
		})
	}
	code, _, raw := send(t, c, http.MethodGet, srv.URL+"/students/1", "")
	if code != http.StatusOK || strings.Contains(raw, "\ufffd") || strings.Count(raw, `"title"`) != 3 {
		t.Errorf("after the refused writes, student 1 = %d %s; want the three demo grades and no U+FFFD", code, raw)
	}
}

// NUL and ESC (and every other control character) would be stored in a title and shown on
// pages and terminals; PostgreSQL would refuse the NUL that bbolt kept. Both are refused by the
// domain before any store sees them.
func TestControlCharactersInNamesAndTitlesAreRefused(t *testing.T) {
	srv := gradingtest.ServeHTTP(t, gradingtest.NewDemoService(t))
	c := policyClient(t)
	for _, tc := range []struct{ name, path, body, field string }{
		{"NUL in a title", "/students/1/grades", `{"title":"Quiz\u0000","type":"Quiz","score":1}`, "title"},
		{"ESC in a title", "/students/1/grades", `{"title":"\u001b[31mQuiz","type":"Quiz","score":1}`, "title"},
		{"DEL in a title", "/students/1/grades", `{"title":"Qu\u007fiz","type":"Quiz","score":1}`, "title"},
		{"C1 in a title", "/students/1/grades", `{"title":"Quiz \u009b","type":"Quiz","score":1}`, "title"},
		{"newline in a first name", "/students", `{"firstName":"Ann\nLee","lastName":"Lee"}`, "firstName"},
		{"tab in a last name", "/students", `{"firstName":"Ann","lastName":"Le\te"}`, "lastName"},
		{"NUL in a type", "/students/1/grades", `{"title":"Quiz","type":"Quiz\u0000","score":1}`, "type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, eb, raw := send(t, c, http.MethodPost, srv.URL+tc.path, tc.body)
			if code != http.StatusBadRequest || !strings.Contains(eb.Fields[tc.field], "control characters") {
				t.Fatalf("POST %s %s = %d %s; want 400 naming %s and control characters", tc.path, tc.body, code, raw, tc.field)
			}
		})
	}
}

// A score of -0 is a valid 0, but stored as -0 it showed as "-0" on every page.
func TestNegativeZeroScoreIsStoredAsZero(t *testing.T) {
	srv := gradingtest.ServeHTTP(t, gradingtest.NewDemoService(t))
	c := policyClient(t)
	code, _, raw := send(t, c, http.MethodPost, srv.URL+"/students/2/grades", `{"title":"Pop quiz","type":"Quiz","score":-0}`)
	if code != http.StatusCreated || !strings.Contains(raw, `"score":0,`) && !strings.Contains(raw, `"score":0}`) {
		t.Fatalf("POST a score of -0 = %d %s; want 201 with score 0", code, raw)
	}
	if _, _, raw := send(t, c, http.MethodGet, srv.URL+"/students/2", ""); strings.Contains(raw, "-0") {
		t.Errorf("student 2 shows -0: %s", raw)
	}
}

// "+1", "01", "1_0" and "0x1" all parsed as a student ID; one student had many addresses.
// Only the canonical decimal form names a student now; the others are a JSON 404.
func TestOnlyCanonicalStudentIDsNameAStudent(t *testing.T) {
	srv := gradingtest.ServeHTTP(t, gradingtest.NewDemoService(t))
	c := policyClient(t)
	if code, _, raw := send(t, c, http.MethodGet, srv.URL+"/students/1", ""); code != http.StatusOK {
		t.Fatalf("GET /students/1 = %d %s", code, raw)
	}
	for _, id := range []string{"01", "+1", "1_0", "0x1", "0b1", "0o1", "1.0", "1e0", "%201", "1%20", "-0", "00"} {
		for _, r := range []struct{ method, path, body string }{
			{http.MethodGet, "/students/" + id, ""},
			{http.MethodPost, "/students/" + id + "/grades", `{"title":"Quiz","type":"Quiz","score":1}`},
		} {
			code, eb, raw := send(t, c, r.method, srv.URL+r.path, r.body)
			if code != http.StatusNotFound || eb.Error == "" {
				t.Errorf("%s %s = %d %s; want a JSON 404", r.method, r.path, code, raw)
			}
		}
	}
	if _, _, raw := send(t, c, http.MethodGet, srv.URL+"/students/1", ""); strings.Count(raw, `"title"`) != 3 {
		t.Errorf("a grade was recorded through a non-canonical ID: %s", raw)
	}
}

// gorilla/mux answered "/students/../students/1" with an empty 301 to the cleaned path, which a
// client follows to a resource it did not name. Every unclean path is a JSON 404 now.
func TestTraversalInAPathIsJSON404NotRedirect(t *testing.T) {
	srv := gradingtest.ServeHTTP(t, gradingtest.NewDemoService(t))
	c := policyClient(t)
	for _, path := range []string{
		"/students/../students/1", "/students/1/..", "/students/./1", "//students", "/students//1",
		"/students/1/grades/..", "/students/%2e%2e/students/1", "/./students", "/students/..%2f1",
	} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			code, eb, raw := send(t, c, method, srv.URL+path, `{"title":"Quiz","type":"Quiz","score":1}`)
			if code != http.StatusNotFound || eb.Error == "" {
				t.Errorf("%s %s = %d %q; want a JSON 404", method, path, code, raw)
			}
		}
	}
}
