package registry

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/internal/testkit"
)

// hubInstances reads gradebook_registry_instances from the hub's /metrics: "name status" → count.
func hubInstances(base string) (map[string]float64, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var name, status string
		var v float64
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "gradebook_registry_instances{")
		if !ok {
			continue
		}
		labels, value, _ := strings.Cut(rest, "} ")
		if _, err := fmt.Sscanf(strings.NewReplacer(`name="`, "", `",status="`, " ", `"`, "").Replace(labels), "%s %s", &name, &status); err != nil {
			return nil, fmt.Errorf("line %q: %v", line, err)
		}
		if v, err = strconv.ParseFloat(value, 64); err != nil {
			return nil, fmt.Errorf("line %q: %v", line, err)
		}
		out[name+" "+status] = v
	}
	return out, sc.Err()
}

// TestInstancesMetric registers instances whose TTL checks pass, warn and fail through the
// unmodified consul/api client, and reads the hub's /metrics: each status counted per name, 0
// included, following the checks as they move and instances as they leave.
func TestInstancesMetric(t *testing.T) {
	h := startHub(t)
	c := consulClient(t, h.URL(), "")
	for id, status := range map[string]string{"web-1": api.HealthPassing, "web-2": api.HealthPassing, "web-3": api.HealthWarning, "db-1": api.HealthCritical} {
		reg := &api.AgentServiceRegistration{ID: id, Name: strings.Split(id, "-")[0], Port: 8000,
			Check: &api.AgentServiceCheck{CheckID: "ttl:" + id, TTL: "1m", Status: status}}
		if err := c.Agent().ServiceRegister(reg); err != nil {
			t.Fatalf("register %s: %v", id, err)
		}
	}
	want := func(w map[string]float64) {
		t.Helper()
		var got map[string]float64
		testkit.Until(t, 10*time.Second, func() string {
			var err error
			if got, err = hubInstances(h.URL()); err != nil {
				return err.Error()
			}
			// The hub registers itself too: its own series are not this test's.
			for k := range got {
				if strings.HasPrefix(k, "registry ") {
					delete(got, k)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(w) {
				return fmt.Sprintf("gradebook_registry_instances = %v, want %v", got, w)
			}
			return ""
		})
	}
	want(map[string]float64{
		"web passing": 2, "web warning": 1, "web critical": 0,
		"db passing": 0, "db warning": 0, "db critical": 1,
	})
	if err := c.Agent().UpdateTTL("ttl:db-1", "back", api.HealthPassing); err != nil {
		t.Fatal(err)
	}
	if err := c.Agent().UpdateTTL("ttl:web-1", "down", api.HealthCritical); err != nil {
		t.Fatal(err)
	}
	if err := c.Agent().ServiceDeregister("web-3"); err != nil {
		t.Fatal(err)
	}
	want(map[string]float64{
		"web passing": 1, "web warning": 0, "web critical": 1,
		"db passing": 1, "db warning": 0, "db critical": 0,
	})
	if err := c.Agent().ServiceDeregister("db-1"); err != nil {
		t.Fatal(err)
	}
	want(map[string]float64{"web passing": 1, "web warning": 0, "web critical": 1})
}
