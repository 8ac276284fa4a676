package server

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/testkit"
)

// TestRunServesChanges drives the change routes through the whole grading process, with its
// runtime's middleware in front: the token on writes, JSON bodies, ETags, If-Match, and the
// per-method metrics.
func TestRunServesChanges(t *testing.T) {
	const token = "s3cret"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testkit.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"-listen", "127.0.0.1:0", "-grpc-listen", "127.0.0.1:0", "-data", t.TempDir(),
			"-registry", "http://127.0.0.1:1", "-token", token}, nil, &stderr)
	}()
	addr := testkit.ServingAddr(t, &stderr, 10*time.Second)
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	do := func(method, path, body string, header map[string]string) (int, http.Header, string) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, "http://"+addr+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _, _ := do("GET", "/health", "", nil); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health never passed\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	auth := "Bearer " + token
	jsonType := "application/json"
	steps := []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
		contains, etag           string
	}{
		{"read a grade without the token", "GET", "/students/1/grades/1", "", nil, 200, `"id":1,"version":1`, `"1"`},
		{"correct without the token", "PATCH", "/students/1/grades/1", `{"score":50}`, map[string]string{"Content-Type": jsonType}, 401, `"error"`, ""},
		{"correct with a body that is not JSON", "PATCH", "/students/1/grades/1", `score=50`, map[string]string{"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"}, 415, `"error"`, ""},
		{"correct", "PATCH", "/students/1/grades/1", `{"score":50,"changedBy":"krabappel"}`, map[string]string{"Authorization": auth, "Content-Type": jsonType, "If-Match": `"1"`}, 200, `"version":2`, `"2"`},
		{"correct at a stale version", "PATCH", "/students/1/grades/1", `{"score":60}`, map[string]string{"Authorization": auth, "Content-Type": jsonType, "If-Match": `"1"`}, 412, `"error"`, ""},
		{"remove without a body", "DELETE", "/students/1/grades/2", "", map[string]string{"Authorization": auth, "If-Match": `"1"`}, 204, "", ""},
		{"remove with a body", "DELETE", "/students/1/grades/3", `{"changedBy":"krabappel"}`, map[string]string{"Authorization": auth, "Content-Type": jsonType}, 204, "", ""},
		{"history", "GET", "/students/1/history", "", nil, 200, `"action":"removed","by":"krabappel"`, ""},
		{"rename", "PATCH", "/students/2", `{"firstName":"Margaret","lastName":"Garrard"}`, map[string]string{"Authorization": auth, "Content-Type": jsonType}, 200, `"firstName":"Margaret"`, ""},
		{"remove a student with grades", "DELETE", "/students/2", "", map[string]string{"Authorization": auth}, 409, `still has grades`, ""},
		{"remove a student with force", "DELETE", "/students/2?force=true", "", map[string]string{"Authorization": auth}, 204, "", ""},
	}
	for _, st := range steps {
		code, header, body := do(st.method, st.path, st.body, st.header)
		if code != st.status || !strings.Contains(body, st.contains) {
			t.Errorf("%s: %s %s = %d %s; want %d with %s", st.name, st.method, st.path, code, body, st.status, st.contains)
		}
		if st.etag != "" && header.Get("ETag") != st.etag {
			t.Errorf("%s: ETag %q, want %q", st.name, header.Get("ETag"), st.etag)
		}
	}
	if code, _, body := do("GET", "/metrics", "", nil); code != 200 ||
		!strings.Contains(body, `method="UpdateGrade",outcome="ok"`) || !strings.Contains(body, `method="UpdateGrade",outcome="conflict"`) ||
		!strings.Contains(body, `method="RemoveStudent",outcome="ok"`) {
		t.Errorf("/metrics lacks the calls of the new methods by outcome: %d", code)
	}
	stopRun(t, cancel, done, &stderr, 15*time.Second)
}
