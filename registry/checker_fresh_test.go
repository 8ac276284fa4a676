package registry

import (
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
