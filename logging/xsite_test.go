package logging

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// A page a teacher visits writes to the log service through the browser: forged entries (a false
// audit trail, or a flood) are refused, whether sent as a simple text/plain request or as a
// cross-site fetch, and none is stored. The course's services still post their text lines, and
// shippers their JSON batches.
func TestLogServiceRefusesCrossSiteWrites(t *testing.T) {
	addr, stop := runLogService(t, t.TempDir(), fakeRegistry(t))
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
	entries := func(marker string) int {
		t.Helper()
		_, body := send(http.MethodGet, "/v1/logs?limit=1000", "")
		var got []map[string]any
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("GET /v1/logs: %v: %s", err, body)
		}
		n := 0
		for _, e := range got {
			if strings.Contains(e["msg"].(string), marker) {
				n++
			}
		}
		return n
	}
	batch := func(msg string) string {
		return `[{"service":"grading","level":"info","msg":"` + msg + `"}]`
	}

	for _, tc := range []struct {
		name, path, body string
		header           []string
		want             int
	}{
		{"JSON batch as text/plain", "/v1/logs", batch("forged-1"), []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType},
		{"JSON batch without a Content-Type", "/v1/logs", batch("forged-2"), nil, http.StatusUnsupportedMediaType},
		{"JSON batch from another site", "/v1/logs", batch("forged-3"),
			[]string{"Content-Type", "application/json", "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"text line from another site", "/log", "forged-4",
			[]string{"Content-Type", "text/plain", "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"text line with a foreign Origin", "/log", "forged-5",
			[]string{"Content-Type", "text/plain", "Origin", "http://evil.example"}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := send(http.MethodPost, tc.path, tc.body, tc.header...)
			if code != tc.want || !strings.HasPrefix(body, `{"error":"`) {
				t.Errorf("status %d, want %d with a JSON error: %s", code, tc.want, body)
			}
		})
	}
	if n := entries("forged-"); n != 0 {
		t.Errorf("%d forged entries were stored", n)
	}

	// What the service's own clients send.
	if code, body := send(http.MethodPost, "/log", "course line kept-1", "Content-Type", "text/plain"); code != http.StatusOK {
		t.Errorf("course-protocol text line: %d %s", code, body)
	}
	if code, body := send(http.MethodPost, "/v1/logs", batch("kept-2"), "Content-Type", "application/json; charset=utf-8"); code != http.StatusOK {
		t.Errorf("JSON batch with a charset: %d %s", code, body)
	}
	if n := entries("kept-"); n != 2 {
		t.Errorf("%d of the 2 legitimate entries were stored", n)
	}
}
