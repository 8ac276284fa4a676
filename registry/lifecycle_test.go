package registry

import (
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"go.uber.org/goleak"

	"github.com/gradebook/gradebook/internal/testkit"
)

// TestServeStopsEverything stops a busy hub (checks of every kind, a gRPC one with its kept
// connection, a course-protocol dependent with its patch sender, blocking queries in flight) and
// finds no goroutine of it left.
func TestServeStopsEverything(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	tg := newTarget(t, http.StatusOK)
	var grpcConns connCounter
	grpcAddr, stopGRPC := serveHealth(t, "127.0.0.1:0", &grpcConns)
	dep := newFakeCourseService(t)
	h := startHub(t, "-heartbeat-interval", "100ms")
	cfg := api.DefaultNonPooledConfig()
	cfg.Address = h.Addr()
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "busy", Checks: api.AgentServiceChecks{
		{HTTP: tg.URL, Interval: "100ms"}, {TCP: tg.Listener.Addr().String(), Interval: "100ms"}, {TTL: "1s"},
		{GRPC: grpcAddr, Interval: "100ms"},
	}}))
	postCourse(t, h.URL(), dep.registration("Dependent", "busy"))
	// Once every check but the TTL one (which stays critical) passes, the catalog stops changing,
	// so that the blocking queries below wait until the stop rather than answer a status change.
	testkit.Eventually(t, 5*time.Second, "every check but the TTL one passing", func() bool {
		checks, err := c.Agent().Checks()
		if err != nil {
			return false
		}
		for _, ch := range checks {
			if ch.Type != "ttl" && ch.Status != api.HealthPassing {
				return false
			}
		}
		return true
	})

	_, meta, err := c.Health().Service("busy", "", false, nil)
	must(err)
	answered := make(chan time.Duration, 1)
	go func() {
		begin := time.Now()
		_, _, _ = c.Health().Service("busy", "", false, &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: time.Minute})
		answered <- time.Since(begin)
	}()
	catalogIndex := h.cat.Index()
	catalogAnswered := make(chan struct{})
	go func() {
		defer close(catalogAnswered)
		_, _, _ = c.Catalog().Services(&api.QueryOptions{WaitIndex: catalogIndex, WaitTime: time.Minute})
	}()
	// Both queries must have reached the hub before it stops: one still on its way would prove
	// nothing about answering them. They wait there, unless a check flapped and woke them.
	testkit.Eventually(t, 5*time.Second, "both blocking queries waiting in the hub", func() bool {
		named := parked(h.cat, "busy") || len(answered) > 0
		select {
		case <-catalogAnswered:
			return named
		default:
			return named && goroutines("(*Hub).handleCatalogServices(", "registry.sleep(") > 0
		}
	})
	testkit.Eventually(t, 5*time.Second, "the gRPC check connected", func() bool { return grpcConns.rpcs.Load() > 0 })

	begin := time.Now()
	h.Stop()
	t.Logf("the hub stopped in %v with blocking queries in flight", time.Since(begin))
	t.Logf("the blocking query was answered after %v", <-answered)
	cfg.Transport.CloseIdleConnections()
	tg.Close()
	stopGRPC()
	dep.Close()
	http.DefaultClient.CloseIdleConnections()
}
