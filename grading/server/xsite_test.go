package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingclient"
	"github.com/gradebook/gradebook/internal/testkit"
)

// Without -token, a page a teacher visits could record a grade through the teacher's browser: a
// "simple" cross-site POST (text/plain carrying JSON needs no preflight) or a fetch from another
// origin. Both are refused and nothing is stored; scripts sending JSON, and grading's own client,
// still write.
func TestGradingRefusesCrossSiteWrites(t *testing.T) {
	addr, _, stop := testkit.StartRun(t, Run, []string{"-listen", "127.0.0.1:0", "-grpc-listen", "127.0.0.1:0",
		"-data", t.TempDir(), "-registry", "http://127.0.0.1:1"}, nil)
	defer stop()
	base := "http://" + addr
	send := func(method, path, body string, header ...string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	grades := func() int {
		t.Helper()
		_, body := send(http.MethodGet, "/students/1", "")
		var s grading.Student
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatalf("GET /students/1: %v: %s", err, body)
		}
		return len(s.Grades)
	}
	const grade = `{"title":"Injected","type":"Quiz","score":100}`
	const student = `{"firstName":"Mallory","lastName":"Injected"}`
	before := grades()

	for _, tc := range []struct {
		name, path, body string
		header           []string
		want             int
	}{
		{"simple cross-site POST: text/plain carrying JSON", "/students/1/grades", grade,
			[]string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType},
		{"text/plain with a charset", "/students/1/grades", grade,
			[]string{"Content-Type", "text/plain; charset=utf-8"}, http.StatusUnsupportedMediaType},
		{"form post", "/students/1/grades", grade,
			[]string{"Content-Type", "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		{"no Content-Type", "/students/1/grades", grade, nil, http.StatusUnsupportedMediaType},
		{"new student as text/plain", "/students", student,
			[]string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType},
		{"cross-site fetch with JSON", "/students/1/grades", grade,
			[]string{"Content-Type", "application/json", "Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example"}, http.StatusForbidden},
		{"foreign Origin only", "/students", student,
			[]string{"Content-Type", "application/json", "Origin", "http://evil.example"}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := send(http.MethodPost, tc.path, tc.body, tc.header...)
			if code != tc.want || !strings.HasPrefix(body, `{"error":"`) {
				t.Errorf("status %d, want %d with a JSON error: %s", code, tc.want, body)
			}
		})
	}
	if after := grades(); after != before {
		t.Errorf("%d grades were recorded", after-before)
	}
	if _, body := send(http.MethodGet, "/students", ""); strings.Contains(body, "Mallory") {
		t.Error("a student was added")
	}

	// A script's JSON (with a charset) and grading's own client still write.
	if code, body := send(http.MethodPost, "/students/1/grades", grade, "Content-Type", "application/json; charset=utf-8"); code != http.StatusCreated {
		t.Errorf("JSON with a charset: %d %s", code, body)
	}
	client := gradingclient.NewHTTPClient()
	defer client.CloseIdleConnections()
	eps, err := gradingclient.MakeHTTPClientEndpoints(base, client)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eps.AddGrade(t.Context(), 1, grading.Grade{Title: "Quiz 9", Type: grading.TypeQuiz, Score: 90}, ""); err != nil {
		t.Errorf("gradingclient: %v", err)
	}
	if after := grades(); after != before+2 {
		t.Errorf("%d grades recorded, want 2", after-before)
	}
}
