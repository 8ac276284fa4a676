package logging

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/pkg/httpx"
)

func logCall(t *testing.T, method, url, contentType, body string) (int, httpx.ErrorBody, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var eb httpx.ErrorBody
	_ = json.Unmarshal(raw, &eb)
	return resp.StatusCode, eb, strings.TrimSpace(string(raw))
}

// Invalid UTF-8 in a shipped entry or a course-protocol line was stored as U+FFFD; it is a 400
// now, naming where it was, and nothing is stored.
func TestLogInvalidUTF8IsRefusedNotReplaced(t *testing.T) {
	addr, stop := runLogService(t, t.TempDir(), "http://127.0.0.1:1")
	defer stop()
	base := "http://" + addr
	code, eb, raw := logCall(t, http.MethodPost, base+"/v1/logs", "application/json", "[{\"service\":\"grading\",\"msg\":\"bad \xff\"}]")
	if code != http.StatusBadRequest || eb.Fields["[0].msg"] == "" {
		t.Errorf("POST /v1/logs with invalid UTF-8 = %d %s; want a 400 naming [0].msg", code, raw)
	}
	code, eb, raw = logCall(t, http.MethodPost, base+"/log", "text/plain", "course line \xfe\n")
	if code != http.StatusBadRequest || eb.Fields["body"] == "" {
		t.Errorf("POST /log with invalid UTF-8 = %d %s; want a 400", code, raw)
	}
	if _, _, raw := logCall(t, http.MethodGet, base+"/v1/logs?service=grading", "", ""); strings.Contains(raw, `\ufffd`) || strings.Contains(raw, "\ufffd") {
		t.Errorf("a replaced entry was stored: %s", raw)
	}
	if code, eb, raw := logCall(t, http.MethodGet, base+"/v1/logs/../logs", "", ""); code != http.StatusNotFound || eb.Error == "" {
		t.Errorf("GET /v1/logs/../logs = %d %q; want a JSON 404, not a redirect", code, raw)
	}
}

// A log file that cannot be written answered 503 with the file's path; it names the class of
// failure only now, /health is critical, and both recover once a write succeeds.
func TestLogDiskFullIs503AndHealthCritical(t *testing.T) {
	if !testkit.Isolate(t) {
		return
	}
	dir := t.TempDir()
	addr, stop := runLogService(t, dir, "http://127.0.0.1:1")
	defer stop()
	base := "http://" + addr
	entry := `[{"service":"grading","msg":"grade added"}]`
	restore := testkit.LimitFileSize(t)
	code, _, raw := logCall(t, http.MethodPost, base+"/v1/logs", "application/json", entry)
	if code != http.StatusServiceUnavailable || raw != `{"error":"storage unavailable: file size limit reached"}` {
		t.Errorf("POST /v1/logs on a full disk = %d %s; want 503 {\"error\":\"storage unavailable: file size limit reached\"}", code, raw)
	}
	code, _, raw = logCall(t, http.MethodGet, base+"/health", "", "")
	if code != http.StatusServiceUnavailable || !strings.Contains(raw, "storage unavailable") || strings.Contains(raw, dir) {
		t.Errorf("/health on a full disk = %d %s; want 503 critical without the path", code, raw)
	}
	restore()
	testkit.Eventually(t, 5*time.Second, "a write succeeding once the disk has room", func() bool {
		code, _, _ := logCall(t, http.MethodPost, base+"/v1/logs", "application/json", entry)
		return code == http.StatusOK
	})
	if code, _, raw := logCall(t, http.MethodGet, base+"/health", "", ""); code != http.StatusOK {
		t.Errorf("/health after a write succeeded = %d %s; want passing", code, raw)
	}
}
