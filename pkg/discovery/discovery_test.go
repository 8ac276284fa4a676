package discovery_test

import (
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/hashicorp/consul/api"
	"go.uber.org/goleak"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/pkg/discovery"
	"github.com/gradebook/gradebook/registry/registrytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testkit.LeakOptions()...) }

func registration(t *testing.T, name string, srv *httptest.Server) *api.AgentServiceRegistration {
	host, portStr, _ := net.SplitHostPort(srv.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	return &api.AgentServiceRegistration{
		ID: fmt.Sprintf("%s-%d", name, port), Name: name, Address: host, Port: port,
		Check: &api.AgentServiceCheck{HTTP: srv.URL + "/health", Interval: "100ms", Timeout: "1s"},
	}
}

func healthy(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(srv.Close)
	return srv
}

func registered(c *api.Client, id string) bool {
	_, _, err := c.Agent().Service(id, nil)
	return err == nil
}

func TestRegistrarRetriesUntilTheRegistryAnswers(t *testing.T) {
	// Reserve an address for a hub that is not there yet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := discovery.NewClient("http://"+addr, "")
	if err != nil {
		t.Fatal(err)
	}
	reg := registration(t, "retrying", healthy(t))
	var logs testkit.Buffer
	r := discovery.NewRegistrar(c, reg, log.NewLogfmtLogger(&logs))
	r.Register()
	defer r.Deregister()
	testkit.Eventually(t, 5*time.Second, "a failed attempt, logged", func() bool {
		return strings.Count(logs.String(), "registry unreachable; will retry") >= 2
	})
	select {
	case <-r.Registered():
		t.Fatal("registered with no registry running")
	default:
	}
	registrytest.StartHub(t, "-listen", addr)
	select {
	case <-r.Registered():
	case <-time.After(10 * time.Second):
		t.Fatal("not registered within 10s of the registry coming up")
	}
	if !registered(c, reg.ID) {
		t.Fatal("the registry does not know the service")
	}
}

func TestRegistrarRegistersAgainWhenForgotten(t *testing.T) {
	b := registrytest.Hub(registrytest.StartHub(t))
	c := b.Client(t)
	reg := registration(t, "forgotten", healthy(t))
	r := discovery.NewRegistrar(c, reg, log.NewNopLogger())
	r.Register()
	<-r.Registered()
	// The registry forgets the service, as a restarted Consul dev agent would.
	if err := c.Agent().ServiceDeregister(reg.ID); err != nil {
		t.Fatal(err)
	}
	took := testkit.Eventually(t, 3*discovery.AntiEntropy+2*time.Second, "re-registration", func() bool { return registered(c, reg.ID) })
	t.Logf("registered again %v after being forgotten", took)
	r.Deregister()
	if registered(c, reg.ID) {
		t.Error("still registered after Deregister")
	}
}

// instancer is what both kinds of Instancer offer a service.
type instancer interface {
	sd.Instancer
	Ready() <-chan struct{}
	Stop()
}

// instancerKinds are the two Instancers, made the same way, for tests that both must pass.
var instancerKinds = []struct {
	name string
	new  func(c *api.Client, name string, logger log.Logger) instancer
}{
	{"plain", func(c *api.Client, name string, logger log.Logger) instancer {
		return discovery.NewInstancer(c, name, nil, logger)
	}},
	{"grouped", func(c *api.Client, name string, logger log.Logger) instancer {
		return discovery.NewGroupedInstancer(c, name, "store_id", nil, logger)
	}},
}

func TestInstancerFollowsInstancesAndNeverBlocks(t *testing.T) {
	for _, kind := range instancerKinds {
		t.Run(kind.name, func(t *testing.T) {
			// A registry that accepts connections but never answers: the constructor must return
			// at once, and Stop must not wait for the query.
			stuck, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer stuck.Close()
			sc, _ := discovery.NewClient("http://"+stuck.Addr().String(), "")
			begin := time.Now()
			blocked := kind.new(sc, "anything", log.NewNopLogger())
			if d := time.Since(begin); d > time.Second {
				t.Errorf("the constructor took %v against a registry that does not answer", d)
			}
			select {
			case <-blocked.Ready():
				t.Error("Ready before the registry answered")
			default:
			}
			begin = time.Now()
			blocked.Stop()
			if d := time.Since(begin); d > time.Second {
				t.Errorf("Stop took %v with a query in flight", d)
			}

			// A registry that refuses connections (one still starting): a failed query is no
			// answer, so the Instancer is not Ready for it.
			gone, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			gone.Close()
			gc, _ := discovery.NewClient("http://"+gone.Addr().String(), "")
			refused := kind.new(gc, "anything", log.NewNopLogger())
			failed := make(chan sd.Event, 4)
			refused.Register(failed)
			select {
			case ev := <-failed:
				if ev.Err == nil {
					t.Errorf("an event without an error from a registry that refuses connections: %+v", ev)
				}
			case <-time.After(5 * time.Second):
				t.Error("no error event within 5s from a registry that refuses connections")
			}
			select {
			case <-refused.Ready():
				t.Error("Ready after a failed query: a registry that refuses connections answered nothing")
			default:
			}
			refused.Deregister(failed)
			refused.Stop()

			b := registrytest.Hub(registrytest.StartHub(t))
			c := b.Client(t)
			var logs testkit.Buffer
			in := kind.new(c, "followed", log.NewLogfmtLogger(&logs))
			defer in.Stop()
			select {
			case <-in.Ready():
			case <-time.After(5 * time.Second):
				t.Fatal("not Ready within 5s")
			}
			events := make(chan sd.Event, 16)
			in.Register(events)
			defer in.Deregister(events)
			srv := healthy(t)
			reg := registration(t, "followed", srv)
			registrytest.Register(t, c, reg)
			want := srv.Listener.Addr().String()
			registrytest.WaitEvent(t, events, 5*time.Second, func(s []string) bool { return len(s) == 1 && s[0] == want })
			if err := c.Agent().ServiceDeregister(reg.ID); err != nil {
				t.Fatal(err)
			}
			registrytest.WaitEvent(t, events, 5*time.Second, func(s []string) bool { return len(s) == 0 })
			for _, line := range []string{"dependency instance appeared", "dependency instance disappeared"} {
				if !strings.Contains(logs.String(), line+`" instance=`+want) {
					t.Errorf("no %q line for %s in the log:\n%s", line, want, logs.String())
				}
			}
		})
	}
}

// proxy stands between the Instancers and the hub: it counts the answers to blocking queries for
// name, and Close makes the registry unreachable.
type proxy struct {
	*httptest.Server
	answers   atomic.Int64
	transport *http.Transport
}

func newProxy(t *testing.T, hubAddr, name string) *proxy {
	t.Helper()
	p := &proxy{transport: &http.Transport{}}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: hubAddr})
	rp.Transport = p.transport
	rp.ErrorLog = stdlog.New(io.Discard, "", 0)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rp.ServeHTTP(w, r)
		if r.URL.Path == "/v1/health/service/"+name {
			p.answers.Add(1)
		}
	}))
	t.Cleanup(func() {
		p.CloseClientConnections()
		p.Close()
		p.transport.CloseIdleConnections()
	})
	return p
}

// storeReg is a registration of name on 127.0.0.1:port, passing, that serves store.
func storeReg(name string, port int, store string) *api.AgentServiceRegistration {
	r := registrytest.PassingReg(fmt.Sprintf("%s-%d", name, port), name, port)
	r.Meta = map[string]string{"store_id": store}
	return r
}

func addrs(ports ...int) []string {
	out := make([]string, 0, len(ports))
	for _, p := range ports {
		out = append(out, fmt.Sprintf("127.0.0.1:%d", p))
	}
	return out
}

// TestGroupedInstancerPublishesOneGroup registers instances of one service that serve different
// stores, on the hub and on a real Consul agent: subscribers see only the chosen store's
// instances, following the rule as instances come and go; the split is warned about once per
// change of the grouping, however often the registry answers; and when the registry becomes
// unreachable, the last known view stays.
func TestGroupedInstancerPublishesOneGroup(t *testing.T) {
	for _, b := range []struct {
		name  string
		start func(t *testing.T) registrytest.Backend
	}{
		{"hub", func(t *testing.T) registrytest.Backend { return registrytest.Hub(registrytest.StartHub(t)) }},
		{"consul", func(t *testing.T) registrytest.Backend {
			return registrytest.ConsulBackend(registrytest.StartConsul(t))
		}},
	} {
		t.Run(b.name, func(t *testing.T) { testGroupedInstancerPublishesOneGroup(t, b.start(t)) })
	}
}

func testGroupedInstancerPublishesOneGroup(t *testing.T, be registrytest.Backend) {
	name := registrytest.ServiceName(t)
	p := newProxy(t, be.Addr, name)
	// The Instancer asks through the proxy; the test changes the registry directly.
	c := registrytest.Backend{Name: be.Name, Addr: strings.TrimPrefix(p.URL, "http://")}.Client(t)
	direct := be.Client(t)

	registrytest.Register(t, direct, storeReg(name, 7001, "a"))
	registrytest.Register(t, direct, storeReg(name, 7002, "b"))
	registrytest.Register(t, direct, storeReg(name, 7003, "b"))
	var logs testkit.Buffer
	in := discovery.NewGroupedInstancer(c, name, "store_id", nil, log.NewLogfmtLogger(&logs))
	defer in.Stop()
	events := make(chan sd.Event, 16)
	in.Register(events)
	defer in.Deregister(events)
	warnings := func() int { return strings.Count(logs.String(), "level=warn") }

	// Store b has more instances: only they are published.
	registrytest.WaitEvent(t, events, 5*time.Second, func(s []string) bool { return slices.Equal(s, addrs(7002, 7003)) })
	groups := in.Groups()
	if len(groups) != 2 || groups[0].ID != "b" || !groups[0].Used || !slices.Equal(groups[0].Instances, addrs(7002, 7003)) ||
		groups[1].ID != "a" || groups[1].Used || !slices.Equal(groups[1].Instances, addrs(7001)) {
		t.Fatalf("Groups() = %+v", groups)
	}
	if n := warnings(); n != 1 || !strings.Contains(logs.String(), `groups="b: 2 instances (used); a: 1 instance"`) {
		t.Fatalf("%d warnings, want 1 naming the groups:\n%s", n, logs.String())
	}

	// Instances that fail their checks wake the query without changing what passes: the registry
	// answers again and again, and the split is not warned about again.
	before := p.answers.Load()
	for port := 7010; port < 7013; port++ {
		r := storeReg(name, port, "c")
		r.Check.Status = api.HealthCritical
		registrytest.Register(t, direct, r)
	}
	testkit.Eventually(t, 10*time.Second, "three more answers to the blocking query", func() bool { return p.answers.Load() >= before+3 })
	if n := warnings(); n != 1 {
		t.Fatalf("%d warnings after answers that changed nothing, want 1:\n%s", n, logs.String())
	}

	// A second instance of store a ties, and the lower ID wins: one more warning, and subscribers
	// move to store a.
	registrytest.Register(t, direct, storeReg(name, 7004, "a"))
	registrytest.WaitEvent(t, events, 5*time.Second, func(s []string) bool { return slices.Equal(s, addrs(7001, 7004)) })
	testkit.Eventually(t, 5*time.Second, "a warning about the new grouping", func() bool { return warnings() == 2 })

	// Store b goes away, one instance after the other: one group again, said once. The registry
	// may answer between the two (a: 2, b: 1 is a grouping of its own), but no grouping is
	// warned about twice.
	for _, port := range []int{7002, 7003} {
		if err := direct.Agent().ServiceDeregister(fmt.Sprintf("%s-%d", name, port)); err != nil {
			t.Fatal(err)
		}
	}
	testkit.Eventually(t, 5*time.Second, "one group again", func() bool { return len(in.Groups()) == 1 })
	testkit.Eventually(t, 5*time.Second, "the end of the split, logged", func() bool {
		return strings.Count(logs.String(), "no longer differ in their store_id") == 1
	})
	seen := map[string]bool{}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=warn") {
			if seen[line] {
				t.Errorf("warned twice: %s", line)
			}
			seen[line] = true
		}
	}

	// The registry becomes unreachable: subscribers hear of it once and keep their instances,
	// the groups stay as last known, and a new subscriber gets the last known instances.
	p.CloseClientConnections()
	p.Close()
	select {
	case ev := <-events:
		if ev.Err == nil {
			t.Fatalf("event %+v, want an error", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no error event within 5s of the registry going away")
	}
	if g := in.Groups(); len(g) != 1 || g[0].ID != "a" || !slices.Equal(g[0].Instances, addrs(7001, 7004)) {
		t.Fatalf("Groups() with the registry unreachable = %+v", g)
	}
	late := make(chan sd.Event, 1)
	in.Register(late)
	defer in.Deregister(late)
	if ev := <-late; ev.Err != nil || !slices.Equal(ev.Instances, addrs(7001, 7004)) {
		t.Fatalf("a new subscriber got %+v, want the last known instances", ev)
	}
}
