package server

import (
	"net/http"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/testkit"
)

// TestSlowBodyIsCutOff is the slow-body attack on grading's HTTP transport: a write whose body
// comes a byte every 200 ms is cut off by -read-timeout, and one without the token is answered
// 401 and closed without waiting for its body.
func TestSlowBodyIsCutOff(t *testing.T) {
	const readTimeout = time.Second
	addr, _, stop := testkit.StartRun(t, Run, []string{"-listen", "127.0.0.1:0", "-grpc-listen", "127.0.0.1:0",
		"-data", t.TempDir(), "-registry", "http://127.0.0.1:1", "-read-timeout", readTimeout.String(), "-token", "secret"}, nil)
	defer stop()
	slow := testkit.SlowBody{Method: http.MethodPost, Path: "/students", ContentLength: 100_000,
		Every: 200 * time.Millisecond, Fill: ' ', Header: http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer secret"}}}
	res := slow.Send(t, addr, readTimeout+10*time.Second)
	t.Logf("figure: grading: a trickled write cut off after %v (%d bytes sent), answer %d", res.Closed.Round(time.Millisecond), res.Sent, res.Status)
	if res.Status == http.StatusCreated || res.Status >= 500 {
		t.Errorf("a write cut off by the read deadline answered %d, want a 4xx", res.Status)
	}

	slow.Header = http.Header{"Content-Type": {"application/json"}}
	res = slow.Send(t, addr, readTimeout+10*time.Second)
	t.Logf("figure: grading: a trickled write without the token closed after %v, answer %d", res.Closed.Round(time.Millisecond), res.Status)
	if res.Status != http.StatusUnauthorized || res.Closed >= readTimeout {
		t.Errorf("without the token: answer %d, closed after %v; want 401 and closed before the %v read deadline", res.Status, res.Closed, readTimeout)
	}
}
