package registrytest

import (
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/pkg/discovery"
)

// Backend is a registry under test: the built-in hub or a Consul agent. Its fields are the ONE
// place where the documented differences between the two live, so that a suite can state its
// expectations once and let each backend's facts scale them, instead of weakening an assertion.
//
// Two differences are deliberate and no case of the suite compares them, so they have no field:
// an HTTP check's output on the hub is the status line alone ("HTTP GET <url>: 200 OK"), where
// Consul appends up to 4 KB of the answer's body; and the hub refuses writes whose body is not
// declared application/json (415) and browsers' cross-origin writes (403), which consul/api never
// sends.
type Backend struct {
	Name string // "hub" or "consul"; also the subtest name
	Addr string // host:port of the HTTP API

	// MinInterval is the shortest check interval the backend honours; shorter ones are raised.
	// The hub accepts 100 ms; Consul raises anything below 1 s to 1 s.
	MinInterval time.Duration
	// MinReap is the soonest a critical service can be reaped, counting how often the reaper runs:
	// the hub honours any DeregisterCriticalServiceAfter and reaps every 100 ms; Consul raises it
	// to at least 1 min and reaps every 30 s.
	MinReap time.Duration
	// StaggersFirstCheck is true when the first run of a new check is delayed by up to one interval
	// (Consul spreads it randomly); the hub runs it at once.
	StaggersFirstCheck bool
}

// Hub describes the built-in hub listening on addr.
func Hub(addr string) Backend {
	return Backend{Name: "hub", Addr: addr, MinInterval: 100 * time.Millisecond, MinReap: 100 * time.Millisecond}
}

// ConsulBackend describes a Consul 1.14 agent listening on addr.
func ConsulBackend(addr string) Backend {
	return Backend{Name: "consul", Addr: addr, MinInterval: time.Second, MinReap: 90 * time.Second, StaggersFirstCheck: true}
}

// URL is the registry URL that services are given with -registry.
func (b Backend) URL() string { return "http://" + b.Addr }

// Interval is the check interval the backend will really use when want is asked for.
func (b Backend) Interval(want time.Duration) time.Duration { return max(want, b.MinInterval) }

// FirstCheckWithin is how long after registration the first result of a check with interval
// (as returned by Interval) may take to show: one run at once on the hub, up to one interval
// later where the first run is staggered, plus slack for scheduling and the HTTP round trips.
func (b Backend) FirstCheckWithin(interval time.Duration) time.Duration {
	d := interval + slack
	if b.StaggersFirstCheck {
		d += interval
	}
	return d
}

// DetectWithin is how long after its target starts failing a running check may take to turn
// critical: two intervals, as the registry issue demands, plus slack.
func (b Backend) DetectWithin(interval time.Duration) time.Duration { return 2*interval + slack }

// slack covers scheduling, the HTTP round trips of a check and of the poll that observes it, and
// a loaded 2-core machine running several test binaries at once.
const slack = 400 * time.Millisecond

// Client returns an unmodified consul/api client for the backend, configured as
// discovery.NewClient configures every service's (the same bounded wait, so that a stopped go-kit
// Instancer's last query ends within seconds), whose idle connections are closed at t's cleanup
// so that no connection goroutine outlives the test.
func (b Backend) Client(t testing.TB) *api.Client {
	t.Helper()
	transport := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second}
	cfg := api.DefaultNonPooledConfig()
	cfg.Address, cfg.Scheme = b.Addr, "http"
	cfg.WaitTime = discovery.QueryWait
	cfg.Transport = transport
	cfg.HttpClient = &http.Client{Transport: transport, Timeout: discovery.QueryWait + 5*time.Second}
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatalf("%s client: %v", b.Name, err)
	}
	t.Cleanup(transport.CloseIdleConnections)
	return c
}
