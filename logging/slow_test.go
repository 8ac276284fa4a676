package logging

import (
	"net/http"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/testkit"
)

// TestSlowBodyIsCutOff is the slow-body attack on the log service: a line posted a byte every
// 200 ms is cut off by -read-timeout with a 400 (the client's failure, not the service's), and a
// batch without the token is answered 401 and closed without waiting for its body.
func TestSlowBodyIsCutOff(t *testing.T) {
	const readTimeout = time.Second
	addr, _, stop := testkit.StartRun(t, Run, []string{"-listen", "127.0.0.1:0", "-data", t.TempDir(), "-registry", "http://127.0.0.1:1",
		"-read-timeout", readTimeout.String(), "-token", "secret"}, nil)
	defer stop()
	line := testkit.SlowBody{Method: http.MethodPost, Path: "/log", ContentLength: 100_000, Every: 200 * time.Millisecond,
		Header: http.Header{"Content-Type": {"text/plain"}, "Authorization": {"Bearer secret"}}}
	res := line.Send(t, addr, readTimeout+10*time.Second)
	t.Logf("figure: log: a trickled line cut off after %v (%d bytes sent), answer %d", res.Closed.Round(time.Millisecond), res.Sent, res.Status)
	if res.Status != http.StatusBadRequest {
		t.Errorf("a line cut off by the read deadline answered %d, want 400", res.Status)
	}

	batch := testkit.SlowBody{Method: http.MethodPost, Path: "/v1/logs", ContentLength: 100_000, Every: 200 * time.Millisecond,
		Fill: ' ', Header: http.Header{"Content-Type": {"application/json"}}}
	res = batch.Send(t, addr, readTimeout+10*time.Second)
	t.Logf("figure: log: a trickled batch without the token closed after %v, answer %d", res.Closed.Round(time.Millisecond), res.Status)
	if res.Status != http.StatusUnauthorized || res.Closed >= readTimeout {
		t.Errorf("without the token: answer %d, closed after %v; want 401 and closed before the %v read deadline", res.Status, res.Closed, readTimeout)
	}
}
