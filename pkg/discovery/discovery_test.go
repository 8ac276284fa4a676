package discovery_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
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

func TestInstancerFollowsInstancesAndNeverBlocks(t *testing.T) {
	// A registry that accepts connections but never answers: NewInstancer must return at once.
	stuck, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	sc, _ := discovery.NewClient("http://"+stuck.Addr().String(), "")
	begin := time.Now()
	blocked := discovery.NewInstancer(sc, "anything", nil, log.NewNopLogger())
	if d := time.Since(begin); d > time.Second {
		t.Errorf("NewInstancer took %v against a registry that does not answer", d)
	}
	select {
	case <-blocked.Ready():
		t.Error("Ready before the registry answered")
	default:
	}
	stuck.Close()
	blocked.Stop()

	b := registrytest.Hub(registrytest.StartHub(t))
	c := b.Client(t)
	in := discovery.NewInstancer(c, "followed", nil, log.NewNopLogger())
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
}
