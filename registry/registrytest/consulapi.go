package registrytest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/hashicorp/consul/api"
)

// Helpers that observe a registry only through the consul/api client and go-kit sd, as services do.

// ServiceName is a registry-safe name unique to the running (sub)test.
func ServiceName(t testing.TB) string {
	n := strings.ToLower(t.Name())
	n = strings.NewReplacer("/", "-", "_", "-", " ", "-", "#", "-").Replace(n)
	return strings.TrimPrefix(n, "test")
}

// PassingReg is a registration whose TTL check starts passing and outlasts any test.
func PassingReg(id, name string, port int) *api.AgentServiceRegistration {
	return &api.AgentServiceRegistration{
		ID: id, Name: name, Address: "127.0.0.1", Port: port,
		Check: &api.AgentServiceCheck{TTL: "10m", Status: api.HealthPassing},
	}
}

// Register registers r and deregisters it at cleanup.
func Register(t testing.TB, c *api.Client, r *api.AgentServiceRegistration) {
	t.Helper()
	if err := c.Agent().ServiceRegister(r); err != nil {
		t.Fatalf("register %s: %v", r.ID, err)
	}
	t.Cleanup(func() { _ = c.Agent().ServiceDeregister(r.ID) })
}

// IsStatus reports whether err is a consul/api error for HTTP status code.
func IsStatus(err error, code int) bool {
	var se api.StatusError
	return errors.As(err, &se) && se.Code == code
}

// IDs are the sorted service IDs of entries.
func IDs(entries []*api.ServiceEntry) []string {
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Service.ID)
	}
	slices.Sort(ids)
	return ids
}

// PassingIDs are the IDs /v1/health/service/name?passing lists now.
func PassingIDs(t testing.TB, c *api.Client, name, tag string) []string {
	t.Helper()
	entries, _, err := c.Health().Service(name, tag, true, nil)
	if err != nil {
		t.Fatalf("health %s: %v", name, err)
	}
	return IDs(entries)
}

// WaitIDs polls until the instances of name (whatever their health) are exactly want.
func WaitIDs(t testing.TB, c *api.Client, name, tag string, want []string) {
	t.Helper()
	var got []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		entries, _, err := c.Health().Service(name, tag, false, nil)
		if err != nil {
			t.Fatalf("health %s: %v", name, err)
		}
		if got = IDs(entries); slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("instances of %s = %v, want %v", name, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ServiceCheck is the health check of service id (not the node's), as /v1/health/service shows
// it, or nil.
func ServiceCheck(t testing.TB, c *api.Client, name, id string) *api.HealthCheck {
	t.Helper()
	entries, _, err := c.Health().Service(name, "", false, nil)
	if err != nil {
		t.Fatalf("health %s: %v", name, err)
	}
	for _, e := range entries {
		if e.Service.ID != id {
			continue
		}
		for _, hc := range e.Checks {
			if hc.ServiceID == id {
				return hc
			}
		}
	}
	return nil
}

// WaitStatus polls until the check of service id has status want, and returns how long it took.
func WaitStatus(t testing.TB, c *api.Client, name, id, want string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	last := "(absent)"
	for {
		if hc := ServiceCheck(t, c, name, id); hc != nil {
			last = hc.Status
			if hc.Status == want {
				return time.Since(start)
			}
		}
		if time.Since(start) > within {
			t.Fatalf("check of %s is %s, not %s within %v", id, last, want, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitEvent reads go-kit Instancer events until one without error whose sorted instances satisfy
// ok arrives, failing the test after within.
func WaitEvent(t testing.TB, events <-chan sd.Event, within time.Duration, ok func(sorted []string) bool) {
	t.Helper()
	timeout := time.After(within)
	var last sd.Event
	for {
		select {
		case ev := <-events:
			last = ev
			inst := slices.Clone(ev.Instances)
			slices.Sort(inst)
			if ev.Err == nil && ok(inst) {
				return
			}
		case <-timeout:
			t.Fatalf("no matching Instancer event within %v; last: %+v", within, last)
		}
	}
}
