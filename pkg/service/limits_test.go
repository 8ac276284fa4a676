package service_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/pkg/config"
	"github.com/gradebook/gradebook/pkg/service"
)

// newQuietRuntime is a runtime that registers nowhere and ships no logs, with cfg's bounds.
func newQuietRuntime(t *testing.T, cfg config.Common) *service.Runtime {
	t.Helper()
	cfg.Listen, cfg.Registry, cfg.LogLevel, cfg.CheckInterval = "127.0.0.1:0", "http://127.0.0.1:1", "error", 100*time.Millisecond
	if cfg.Name == "" {
		cfg.Name = "limits"
	}
	rt, err := service.New(cfg, &testkit.Buffer{}, service.WithoutLogShipping())
	if err != nil {
		t.Fatal(err)
	}
	rt.SetRegistrar(nopRegistrar{})
	return rt
}

// TestSlowBodyIsCutOff is the slow-body attack on a service's runtime: a client sends a write's
// headers, then its body a byte every 200 ms. A write the handler reads is cut off by the read
// deadline; a write refused with 401 before its body is read is answered and closed at once,
// without waiting for the body.
func TestSlowBodyIsCutOff(t *testing.T) {
	const readTimeout = 2 * time.Second
	rt := newQuietRuntime(t, config.Common{Token: "secret", ReadTimeout: readTimeout})
	rt.Router.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Write(b)
	}).Methods(http.MethodPost)
	stop := serve(t, rt)
	defer stop()

	slow := testkit.SlowBody{Method: http.MethodPost, Path: "/echo", ContentLength: 100_000, Every: 200 * time.Millisecond,
		Fill: ' ', Header: http.Header{"Content-Type": {"application/json"}}}
	t.Run("a write the handler reads", func(t *testing.T) {
		s := slow
		s.Header = http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer secret"}}
		res := s.Send(t, rt.Addr(), readTimeout+10*time.Second)
		t.Logf("figure: read body cut off after %v, %d of %d bytes sent, answer %d", res.Closed.Round(time.Millisecond), res.Sent, s.ContentLength, res.Status)
		if res.Status == http.StatusOK {
			t.Errorf("the trickled body was read to its end")
		}
	})
	t.Run("a write answered 401", func(t *testing.T) {
		res := slow.Send(t, rt.Addr(), readTimeout+10*time.Second)
		t.Logf("figure: 401 write closed after %v, %d body bytes sent", res.Closed.Round(time.Millisecond), res.Sent)
		if res.Status != http.StatusUnauthorized {
			t.Errorf("answer %d, want 401", res.Status)
		}
		// net/http would read up to 256 KiB of the unread body before reusing the connection,
		// until the read deadline at this pace: the connection must close before that.
		if res.Closed >= readTimeout {
			t.Errorf("the connection closed %v after a 401, no sooner than the %v read deadline: the unread body was drained", res.Closed, readTimeout)
		}
	})
}

// TestLongRequestOutlivesReadTimeout: -read-timeout bounds reading a request, not serving it. A
// request without a body that takes several read timeouts to answer, as a registry blocking query
// does, keeps its context and gets its answer.
func TestLongRequestOutlivesReadTimeout(t *testing.T) {
	const readTimeout = 500 * time.Millisecond
	rt := newQuietRuntime(t, config.Common{ReadTimeout: readTimeout})
	rt.Router.HandleFunc("/wait", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			// The client sees no answer: the request's context ends with its connection.
			return
		case <-time.After(4 * readTimeout):
		}
		io.WriteString(w, "waited")
	}).Methods(http.MethodGet)
	stop := serve(t, rt)
	defer stop()
	status, _, body := get(t, "http://"+rt.Addr()+"/wait")
	if status != http.StatusOK || body != "waited" {
		t.Errorf("a request answered after 4 read timeouts got %d %q, want 200 waited", status, body)
	}
}

// TestConnectionsPastTheLimit holds a runtime's every connection open, as a greedy client does:
// the next connection is closed at once instead of waiting, and the refusal shows on /metrics.
func TestConnectionsPastTheLimit(t *testing.T) {
	const limit = 3
	rt := newQuietRuntime(t, config.Common{MaxConns: limit})
	stop := serve(t, rt)
	defer stop()
	var held []net.Conn
	for range limit {
		c, err := net.Dial("tcp", rt.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	g := rt.Metrics.Gatherer()
	testkit.Eventually(t, 5*time.Second, "the held connections accepted", func() bool {
		return testkit.MetricValue(t, g, "gradebook_net_connections_open", "listener", "http") == limit
	})

	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	begin := time.Now()
	resp, err := fresh.Get("http://" + rt.Addr() + "/health")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("GET /health past the limit got %s, want the connection closed", resp.Status)
	}
	if strings.Contains(err.Error(), "Client.Timeout") {
		t.Fatalf("GET /health past the limit timed out (%v): the connection waited instead of being closed", err)
	}
	t.Logf("figure: past the limit, GET /health failed after %v: %v", time.Since(begin).Round(time.Millisecond), err)

	held[0].Close()
	testkit.Eventually(t, 5*time.Second, "room for one more", func() bool {
		return testkit.MetricValue(t, g, "gradebook_net_connections_open", "listener", "http") < limit
	})
	status, _, body := get(t, "http://"+rt.Addr()+"/metrics", "Connection", "close")
	if status != http.StatusOK || !strings.Contains(body, `gradebook_net_connections_rejected_total{listener="http"} 1`) ||
		!strings.Contains(body, `gradebook_net_connections_limit{listener="http"} 3`) {
		t.Errorf("/metrics = %d, want the refusal and the limit counted:\n%s", status, grepLines(body, "gradebook_net_"))
	}
}

// TestReadTimeoutDefault: a runtime built from a Common without the bounds gets the defaults.
func TestReadTimeoutDefault(t *testing.T) {
	rt := newQuietRuntime(t, config.Common{})
	defer rt.Close()
	if rt.Config.ReadTimeout != config.DefaultReadTimeout || rt.Config.MaxConns != config.DefaultMaxConns {
		t.Errorf("read timeout %v, max conns %d: want the defaults", rt.Config.ReadTimeout, rt.Config.MaxConns)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
