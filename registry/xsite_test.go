package registry

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/consul/api"
)

// A page a teacher visits tries to make the hub register a service whose heartbeat is a local URL
// (so that the hub fetches it and shows the answer), and to change the catalog through the Consul
// API: each write is refused and nothing is registered.
func TestHubRefusesCrossSiteWrites(t *testing.T) {
	h := startHub(t, "-heartbeat-interval", "100ms")
	c := consulClient(t, h.URL(), "")
	course := `{"ServiceName":"Evil","ServiceURL":"http://127.0.0.1:1","HeartbeatURL":"http://127.0.0.1:22/"}`
	register := `{"Name":"evil","ID":"evil-1","Port":1}`
	for _, tc := range []struct {
		name, method, path, body string
		header                   []string
		want                     int
	}{
		{"course registration from another site", http.MethodPost, "/services", course,
			[]string{"Content-Type", "application/json", "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"course registration as a simple text/plain request", http.MethodPost, "/services", course,
			[]string{"Content-Type", "text/plain;charset=UTF-8"}, http.StatusUnsupportedMediaType},
		{"course registration as a form", http.MethodPost, "/services", course,
			[]string{"Content-Type", "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType},
		{"Consul registration from another site", http.MethodPut, "/v1/agent/service/register", register,
			[]string{"Content-Type", "application/json", "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"Consul registration with a foreign Origin", http.MethodPut, "/v1/agent/service/register", register,
			[]string{"Content-Type", "application/json", "Origin", "http://evil.example"}, http.StatusForbidden},
		{"Consul registration as text/plain", http.MethodPut, "/v1/agent/service/register", register,
			[]string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType},
		{"course deregistration from another site", http.MethodDelete, "/services", h.URL(),
			[]string{"Content-Type", "text/plain", "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"deregistration from another site", http.MethodPut, "/v1/agent/service/deregister/registry", "",
			[]string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := hubRequest(t, tc.method, h.URL()+tc.path, tc.body, tc.header...)
			if code != tc.want || !strings.HasPrefix(body, `{"error":"`) {
				t.Errorf("status %d, want %d with a JSON error: %s", code, tc.want, body)
			}
		})
	}
	services, err := c.Agent().Services()
	if err != nil {
		t.Fatal(err)
	}
	for id := range services {
		if !strings.HasPrefix(id, "registry-") {
			t.Errorf("%s is registered", id)
		}
	}
	if len(services) == 0 {
		t.Error("the hub's own registration is gone")
	}
}

// What the course's own services and the real consul/api client send keeps working: text/plain
// deregistrations (with or without the type), JSON with a charset, body-less check updates.
func TestHubAcceptsItsOwnClients(t *testing.T) {
	h := startHub(t, "-heartbeat-interval", "100ms")
	c := consulClient(t, h.URL(), "")
	for i, ct := range []string{"text/plain", ""} {
		svc := newFakeCourseService(t)
		name := []string{"Plain", "Untyped"}[i]
		b, _ := json.Marshal(svc.registration(name))
		if code, body := hubRequest(t, http.MethodPost, h.URL()+"/services", string(b), "Content-Type", "application/json; charset=utf-8"); code != http.StatusOK {
			t.Fatalf("register %s: %d %s", name, code, body)
		}
		hdr := []string{}
		if ct != "" {
			hdr = []string{"Content-Type", ct}
		}
		if code, body := hubRequest(t, http.MethodDelete, h.URL()+"/services", svc.URL, hdr...); code != http.StatusOK {
			t.Errorf("deregister %s with Content-Type %q: %d %s", name, ct, code, body)
		}
	}
	// consul/api: a registration (JSON body), body-less TTL passes, a TTL update (JSON body),
	// and a deregistration.
	if err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "ttl", ID: "ttl-1", Port: 1,
		Check: &api.AgentServiceCheck{CheckID: "ttl-1-check", TTL: "1m"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Agent().PassTTL("ttl-1-check", ""); err != nil {
		t.Errorf("PassTTL: %v", err)
	}
	if err := c.Agent().UpdateTTL("ttl-1-check", "busy", api.HealthWarning); err != nil {
		t.Errorf("UpdateTTL: %v", err)
	}
	if err := c.Agent().ServiceDeregister("ttl-1"); err != nil {
		t.Errorf("ServiceDeregister: %v", err)
	}
}
