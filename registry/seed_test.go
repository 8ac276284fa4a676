package registry

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// fakeSeed is a service written for the seed's registry: it posts its registration, takes
// patches on /services and answers heartbeats on /heartbeat.
type fakeSeed struct {
	*httptest.Server
	heartbeat atomic.Int32
	patches   recorder // one line per entry: "+name url" or "-name url"
	received  atomic.Int64
}

func newFakeSeed(t *testing.T) *fakeSeed {
	s := &fakeSeed{}
	s.heartbeat.Store(http.StatusOK)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /heartbeat", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(s.heartbeat.Load()))
	})
	mux.HandleFunc("POST /services", func(w http.ResponseWriter, r *http.Request) {
		var p patch
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, e := range p.Added {
			s.patches.add("+" + e.Name + " " + e.URL)
		}
		for _, e := range p.Removed {
			s.patches.add("-" + e.Name + " " + e.URL)
		}
		s.received.Add(1)
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *fakeSeed) registration(name string, requires ...string) seedRegistration {
	return seedRegistration{ServiceName: name, ServiceURL: s.URL, RequiredServices: requires,
		ServiceUpdateURL: s.URL + "/services", HeartbeatURL: s.URL + "/heartbeat"}
}

func postSeed(t *testing.T, hubURL string, reg seedRegistration) {
	t.Helper()
	b, _ := json.Marshal(reg)
	resp, err := http.Post(hubURL+"/services", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST /services: %d %s", resp.StatusCode, body)
	}
}

func deleteSeed(t *testing.T, hubURL, serviceURL string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, hubURL+"/services", bytes.NewBufferString(serviceURL))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestSeedProtocol(t *testing.T) {
	h := startHub(t, "-heartbeat-interval", "100ms")
	c := consulClient(t, h.URL(), "")
	passingTTL := &api.AgentServiceCheck{TTL: "10m", Status: api.HealthPassing}

	// A provider registered through /v1 before the dependent.
	if err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "Grades", ID: "grades-1", Address: "127.0.0.1", Port: 6001, Check: passingTTL}); err != nil {
		t.Fatal(err)
	}
	portal := newFakeSeed(t)
	postSeed(t, h.URL(), portal.registration("Portal", "Grades", "Log"))
	// The initial patch has arrived by the time the 200 has.
	if portal.received.Load() != 1 || !slices.Equal(portal.patches.all(), []string{"+Grades http://127.0.0.1:6001"}) {
		t.Fatalf("initial patch: %d patches, entries %q", portal.received.Load(), portal.patches.all())
	}

	// The seed service is in the shared catalog, visible through /v1.
	entries, _, err := c.Health().Service("Portal", "", true, nil)
	if err != nil || len(entries) != 1 || entries[0].Service.Meta["protocol"] != "seed" {
		t.Fatalf("seed service through /v1: %+v %v", entries, err)
	}

	waitFor := func(entry string) {
		t.Helper()
		eventually(t, 5*time.Second, "patch entry "+entry, func() bool { return slices.Contains(portal.patches.all(), entry) })
	}
	// A seed-protocol provider appears.
	logSvc := newFakeSeed(t)
	postSeed(t, h.URL(), logSvc.registration("Log"))
	waitFor("+Log " + logSvc.URL)
	// The /v1 provider goes away.
	if err := c.Agent().ServiceDeregister("grades-1"); err != nil {
		t.Fatal(err)
	}
	waitFor("-Grades http://127.0.0.1:6001")
	// A /v1 provider comes, then fails its check.
	if err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "Grades", ID: "grades-2", Address: "127.0.0.1", Port: 6002, Check: passingTTL}); err != nil {
		t.Fatal(err)
	}
	waitFor("+Grades http://127.0.0.1:6002")
	if err := c.Agent().FailTTL("service:grades-2", "down"); err != nil {
		t.Fatal(err)
	}
	waitFor("-Grades http://127.0.0.1:6002")
	// The seed provider's heartbeat fails: it is dropped from the patches, then from the catalog.
	logSvc.heartbeat.Store(http.StatusInternalServerError)
	waitFor("-Log " + logSvc.URL)
	eventually(t, 5*time.Second, "the Log service removed after its heartbeat failed", func() bool {
		entries, _, err := c.Health().Service("Log", "", false, nil)
		return err == nil && len(entries) == 0
	})

	want := []string{
		"+Grades http://127.0.0.1:6001",
		"+Log " + logSvc.URL,
		"-Grades http://127.0.0.1:6001",
		"+Grades http://127.0.0.1:6002",
		"-Grades http://127.0.0.1:6002",
		"-Log " + logSvc.URL,
	}
	if got := portal.patches.all(); !slices.Equal(got, want) {
		t.Errorf("patches in order:\n got %q\nwant %q", got, want)
	}

	// DELETE /services removes the dependent; a second DELETE finds nothing.
	if code := deleteSeed(t, h.URL(), portal.URL); code != http.StatusOK {
		t.Fatalf("DELETE /services: %d", code)
	}
	if entries, _, _ := c.Health().Service("Portal", "", false, nil); len(entries) != 0 {
		t.Errorf("Portal still registered after DELETE: %+v", entries)
	}
	if code := deleteSeed(t, h.URL(), portal.URL); code != http.StatusNotFound {
		t.Errorf("second DELETE /services: %d, want 404", code)
	}
}

func TestSeedPatchWithNothingRequired(t *testing.T) {
	h := startHub(t)
	s := newFakeSeed(t)
	postSeed(t, h.URL(), s.registration("Lonely"))
	if s.received.Load() != 1 || len(s.patches.all()) != 0 {
		t.Fatalf("want one empty patch before the 200, got %d patches: %q", s.received.Load(), s.patches.all())
	}
}

func TestSeedUnreachableUpdateURLIsNotFatal(t *testing.T) {
	h := startHub(t)
	s := newFakeSeed(t)
	reg := s.registration("Stubborn", "Anything")
	reg.ServiceUpdateURL = "http://127.0.0.1:1/services" // nothing listens there
	postSeed(t, h.URL(), reg)
}
