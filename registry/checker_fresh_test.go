package registry

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/pkg/netx"
)

// stuckListener is a listener that, once stuck, takes new connections off the backlog and never
// serves them: an instance that cannot take on new clients (its accept loop starved, its
// descriptors used up), while the connections it already serves go on working.
type stuckListener struct {
	net.Listener
	stuck atomic.Bool
	mu    sync.Mutex
	held  []net.Conn
}

func (l *stuckListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || !l.stuck.Load() {
			return c, err
		}
		l.mu.Lock()
		l.held = append(l.held, c)
		l.mu.Unlock()
	}
}

func (l *stuckListener) Close() error {
	l.mu.Lock()
	for _, c := range l.held {
		c.Close()
	}
	l.held = nil
	l.mu.Unlock()
	return l.Listener.Close()
}

// TestHTTPCheckDialsAfresh: an instance that stops taking new connections turns critical within
// three check intervals, even though a connection it already had open still gets answers. The
// hub's checks dial afresh each time, as Consul's do; a check that reused a kept-alive connection
// would see it passing for as long as that connection lived.
func TestHTTPCheckDialsAfresh(t *testing.T) {
	const interval = 500 * time.Millisecond
	h := startHub(t)
	c := consulClient(t, h.URL(), "")
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	ln := &stuckListener{Listener: srv.Listener}
	srv.Listener = ln
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "stuck", ID: "stuck-1", Check: &api.AgentServiceCheck{
		HTTP: srv.URL, Interval: interval.String(), Timeout: (interval * 3 / 5).String(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Until(t, 5*time.Second, func() string {
		if st := checkStatus(t, c, "service:stuck-1"); st != api.HealthPassing {
			return "the check is " + st + ", not passing yet"
		}
		if n := conns.Load(); n < 3 {
			return "the target has seen only one connection: the checks do not dial afresh"
		}
		return ""
	})

	// A client of the instance keeps a connection alive across the moment it gets stuck.
	kept := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 5 * time.Second}
	defer kept.CloseIdleConnections()
	keptGet := func() error {
		resp, err := kept.Get(srv.URL)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := keptGet(); err != nil {
		t.Fatal(err)
	}

	ln.stuck.Store(true)
	took := testkit.Until(t, 3*interval, func() string {
		if st := checkStatus(t, c, "service:stuck-1"); st != api.HealthCritical {
			return "the check is " + st + ", not critical"
		}
		return ""
	})
	t.Logf("figure: critical %v after the instance stopped taking connections (interval %v)", took.Round(time.Millisecond), interval)
	if err := keptGet(); err != nil {
		t.Errorf("the kept-alive connection failed too (%v), so this test shows nothing about fresh dials", err)
	}
}

// TestHTTPCheckSeesAnInstanceAtItsConnectionLimit: a greedy client holds every connection an
// instance allows (netx.LimitListener, as every service's listener is limited by -max-conns).
// The hub's next check is one connection too many, closed at once: the instance turns critical
// within three intervals, where a check over a connection of its own kept alive would pass.
func TestHTTPCheckSeesAnInstanceAtItsConnectionLimit(t *testing.T) {
	const (
		interval = 500 * time.Millisecond
		limit    = 2
	)
	h := startHub(t)
	c := consulClient(t, h.URL(), "")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	lim := netx.LimitListener(srv.Listener, limit)
	srv.Listener = lim
	srv.Start()
	defer srv.Close()
	err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "full", ID: "full-1", Check: &api.AgentServiceCheck{
		HTTP: srv.URL, Interval: interval.String(), Timeout: (interval * 3 / 5).String(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Until(t, 5*time.Second, func() string {
		if st := checkStatus(t, c, "service:full-1"); st != api.HealthPassing {
			return "the check is " + st + ", not passing yet"
		}
		return ""
	})

	// The greedy client takes every place the instance has: a connection counts as its own once
	// a request over it has been answered (one past the limit would have been closed instead),
	// and it stays open, idle, after that.
	var greedy []net.Conn
	defer func() {
		for _, g := range greedy {
			g.Close()
		}
	}()
	testkit.Until(t, 5*time.Second, func() string {
		g, err := net.Dial("tcp", lim.Addr().String())
		if err != nil {
			return err.Error()
		}
		_ = g.SetDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(g, "GET / HTTP/1.1\r\nHost: instance\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(g), nil)
		if err != nil {
			g.Close()
			return fmt.Sprintf("the greedy client holds %d of %d connections", len(greedy), limit)
		}
		resp.Body.Close()
		_ = g.SetDeadline(time.Time{})
		greedy = append(greedy, g)
		if len(greedy) < limit {
			return fmt.Sprintf("the greedy client holds %d of %d connections", len(greedy), limit)
		}
		return ""
	})
	rejectedBefore := lim.Rejected()
	took := testkit.Until(t, 3*interval, func() string {
		if st := checkStatus(t, c, "service:full-1"); st != api.HealthCritical {
			return "the check is " + st + ", not critical"
		}
		return ""
	})
	t.Logf("figure: critical %v after a greedy client took the instance's %d connections (interval %v)", took.Round(time.Millisecond), limit, interval)
	if lim.Rejected() == rejectedBefore {
		t.Errorf("the instance refused no connection, so the check did not dial afresh")
	}
}
