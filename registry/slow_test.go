package registry

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/testkit"
)

// TestSlowBodyIsCutOff is the slow-body attack on the hub: a registration whose body comes a
// byte every 200 ms is cut off by -read-timeout, and one without the token is answered 401 and
// closed without waiting for its body. A blocking query, which takes longer than -read-timeout to
// answer but sends no body, still waits its full time.
func TestSlowBodyIsCutOff(t *testing.T) {
	const readTimeout = time.Second
	addr, _, stop := testkit.StartRun(t, Run, []string{"-listen", "127.0.0.1:0", "-data", t.TempDir(),
		"-read-timeout", readTimeout.String(), "-token", "secret"}, nil)
	defer stop()
	slow := testkit.SlowBody{Method: http.MethodPut, Path: "/v1/agent/service/register", ContentLength: 100_000,
		Every: 200 * time.Millisecond, Fill: ' ', Header: http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer secret"}}}
	res := slow.Send(t, addr, readTimeout+10*time.Second)
	t.Logf("figure: registry: a trickled registration cut off after %v (%d bytes sent), answer %d", res.Closed.Round(time.Millisecond), res.Sent, res.Status)
	if res.Status >= 500 {
		t.Errorf("a body cut off by the read deadline answered %d: the client's failure counted as the hub's", res.Status)
	}

	slow.Header = http.Header{"Content-Type": {"application/json"}}
	res = slow.Send(t, addr, readTimeout+10*time.Second)
	t.Logf("figure: registry: a trickled registration without the token closed after %v, answer %d", res.Closed.Round(time.Millisecond), res.Status)
	if res.Status != http.StatusUnauthorized || res.Closed >= readTimeout {
		t.Errorf("without the token: answer %d, closed after %v; want 401 and closed before the %v read deadline", res.Status, res.Closed, readTimeout)
	}

	// A blocking query on the current index waits for its wait time, three read timeouts here.
	resp, err := http.Get("http://" + addr + "/v1/catalog/services")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	index, err := strconv.ParseUint(resp.Header.Get("X-Consul-Index"), 10, 64)
	if err != nil {
		t.Fatalf("X-Consul-Index %q: %v", resp.Header.Get("X-Consul-Index"), err)
	}
	const wait = 3 * readTimeout
	begin := time.Now()
	resp, err = http.Get("http://" + addr + "/v1/catalog/services?index=" + strconv.FormatUint(index, 10) + "&wait=" + wait.String())
	if err != nil {
		t.Fatalf("a blocking query of %v under a %v read timeout: %v", wait, readTimeout, err)
	}
	resp.Body.Close()
	if took := time.Since(begin); resp.StatusCode != http.StatusOK || took < wait-100*time.Millisecond {
		t.Errorf("a blocking query of %v answered %d after %v; want 200 after its wait", wait, resp.StatusCode, took)
	}
}
