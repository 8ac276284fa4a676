package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/internal/testkit"
)

// fakeCourseService is a service written for the course's original registry: it posts its
// registration, takes patches on /services and answers heartbeats on /heartbeat.
type fakeCourseService struct {
	*httptest.Server
	heartbeat atomic.Int32
	patches   recorder // one line per entry: "+name url" or "-name url"
	received  atomic.Int64
}

// recordPatch decodes the patch a hub posts to a course-protocol service and records one line per
// entry, "+name url" or "-name url"; it answers 400 and reports false for a body it cannot read.
func recordPatch(w http.ResponseWriter, r *http.Request, patches *recorder) bool {
	var p patch
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	for _, e := range p.Added {
		patches.add("+" + e.Name + " " + e.URL)
	}
	for _, e := range p.Removed {
		patches.add("-" + e.Name + " " + e.URL)
	}
	return true
}

func newFakeCourseService(t *testing.T) *fakeCourseService {
	s := &fakeCourseService{}
	s.heartbeat.Store(http.StatusOK)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /heartbeat", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(s.heartbeat.Load()))
	})
	mux.HandleFunc("POST /services", func(w http.ResponseWriter, r *http.Request) {
		if recordPatch(w, r, &s.patches) {
			s.received.Add(1)
		}
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *fakeCourseService) registration(name string, requires ...string) courseRegistration {
	return courseRegistration{ServiceName: name, ServiceURL: s.URL, RequiredServices: requires,
		ServiceUpdateURL: s.URL + "/services", HeartbeatURL: s.URL + "/heartbeat"}
}

func postCourse(t *testing.T, hubURL string, reg courseRegistration) {
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

func deleteCourse(t *testing.T, hubURL, serviceURL string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, hubURL+"/services", bytes.NewBufferString(serviceURL))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestCourseProtocol(t *testing.T) {
	h := startHub(t, "-heartbeat-interval", "100ms")
	c := consulClient(t, h.URL(), "")
	passingTTL := &api.AgentServiceCheck{TTL: "10m", Status: api.HealthPassing}

	// A provider registered through /v1 before the dependent.
	if err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "Grades", ID: "grades-1", Address: "127.0.0.1", Port: 6001, Check: passingTTL}); err != nil {
		t.Fatal(err)
	}
	portal := newFakeCourseService(t)
	postCourse(t, h.URL(), portal.registration("Portal", "Grades", "Log"))
	// The initial patch has arrived by the time the 200 has.
	if portal.received.Load() != 1 || !slices.Equal(portal.patches.all(), []string{"+Grades http://127.0.0.1:6001"}) {
		t.Fatalf("initial patch: %d patches, entries %q", portal.received.Load(), portal.patches.all())
	}

	// The course-protocol service is in the shared catalog, visible through /v1.
	entries, _, err := c.Health().Service("Portal", "", true, nil)
	if err != nil || len(entries) != 1 || entries[0].Service.Meta["protocol"] != "seed" {
		t.Fatalf("course-protocol service through /v1: %+v %v", entries, err)
	}

	waitFor := func(entry string) {
		t.Helper()
		testkit.Eventually(t, 5*time.Second, "patch entry "+entry, func() bool { return slices.Contains(portal.patches.all(), entry) })
	}
	// A course-protocol provider appears.
	logSvc := newFakeCourseService(t)
	postCourse(t, h.URL(), logSvc.registration("Log"))
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
	// The course-protocol provider's heartbeat fails: it is dropped from the patches, then from the
	// catalog.
	logSvc.heartbeat.Store(http.StatusInternalServerError)
	waitFor("-Log " + logSvc.URL)
	testkit.Eventually(t, 5*time.Second, "the Log service removed after its heartbeat failed", func() bool {
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
	if code := deleteCourse(t, h.URL(), portal.URL); code != http.StatusOK {
		t.Fatalf("DELETE /services: %d", code)
	}
	if entries, _, _ := c.Health().Service("Portal", "", false, nil); len(entries) != 0 {
		t.Errorf("Portal still registered after DELETE: %+v", entries)
	}
	if code := deleteCourse(t, h.URL(), portal.URL); code != http.StatusNotFound {
		t.Errorf("second DELETE /services: %d, want 404", code)
	}
}

func TestCoursePatchWithNothingRequired(t *testing.T) {
	h := startHub(t)
	s := newFakeCourseService(t)
	postCourse(t, h.URL(), s.registration("Lonely"))
	if s.received.Load() != 1 || len(s.patches.all()) != 0 {
		t.Fatalf("want one empty patch before the 200, got %d patches: %q", s.received.Load(), s.patches.all())
	}
}

func TestCourseUnreachableUpdateURLIsNotFatal(t *testing.T) {
	h := startHub(t)
	s := newFakeCourseService(t)
	reg := s.registration("Stubborn", "Anything")
	reg.ServiceUpdateURL = "http://127.0.0.1:1/services" // nothing listens there
	postCourse(t, h.URL(), reg)
}

// gatedCourseService is a course-protocol dependent that holds its second patch until released, so
// that a test can change providers while a patch is in flight.
type gatedCourseService struct {
	*httptest.Server
	patches  recorder
	received atomic.Int64
	entered  chan struct{} // closed when the held patch arrives
	release  chan struct{}
}

func newGatedCourseService(t *testing.T) *gatedCourseService {
	s := &gatedCourseService{entered: make(chan struct{}), release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /heartbeat", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /services", func(w http.ResponseWriter, r *http.Request) {
		if !recordPatch(w, r, &s.patches) {
			return
		}
		if s.received.Add(1) == 2 {
			close(s.entered)
			select {
			case <-s.release:
			case <-r.Context().Done():
			}
		}
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// net applies patch entries in order and returns the providers they leave.
func netProviders(entries []string) []string {
	var have []string
	for _, e := range entries {
		if e[0] == '+' {
			have = append(have, e[1:])
		} else if i := slices.Index(have, e[1:]); i >= 0 {
			have = slices.Delete(have, i, i+1)
		}
	}
	slices.Sort(have)
	return have
}

// TestCoursePatchesCoalesce changes a dependent's providers a hundred times while a patch to it is
// in flight: what it receives next is one patch with the net change, not a hundred queued ones.
func TestCoursePatchesCoalesce(t *testing.T) {
	h := startHub(t)
	dep := newGatedCourseService(t)
	postCourse(t, h.URL(), courseRegistration{ServiceName: "Portal", ServiceURL: dep.URL, RequiredServices: []string{"Grades"},
		ServiceUpdateURL: dep.URL + "/services", HeartbeatURL: dep.URL + "/heartbeat"})
	register := func(port int) {
		t.Helper()
		svc, checks, err := decodeRegistration([]byte(fmt.Sprintf(
			`{"ID":"grades-%d","Name":"Grades","Address":"127.0.0.1","Port":%d,"Check":{"TTL":"10m","Status":"passing"}}`, port, port)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.register(svc, checks); err != nil {
			t.Fatal(err)
		}
	}
	deregister := func(port int) {
		t.Helper()
		if _, err := h.deregister(fmt.Sprint("grades-", port)); err != nil {
			t.Fatal(err)
		}
	}
	register(7000)
	select {
	case <-dep.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the patch for grades-7000 did not arrive")
	}
	// known reports whether the notifier has recorded that the dependent should know url: each
	// change below waits for it, so that the notifier sees every change rather than only their
	// net sum.
	known := func(url string) bool {
		h.course.mu.Lock()
		defer h.course.mu.Unlock()
		for _, d := range h.course.deps { // Portal is the only dependent
			d.mu.Lock()
			defer d.mu.Unlock()
			return d.want["Grades"][url]
		}
		return false
	}
	const churn = 50
	for i := range churn {
		port := 7100 + i
		url := fmt.Sprint("http://127.0.0.1:", port)
		register(port)
		testkit.Eventually(t, 5*time.Second, "the notifier saw "+url+" come", func() bool { return known(url) })
		deregister(port)
		testkit.Eventually(t, 5*time.Second, "the notifier saw "+url+" go", func() bool { return !known(url) })
	}
	register(7001)
	close(dep.release)

	want := []string{"Grades http://127.0.0.1:7000", "Grades http://127.0.0.1:7001"}
	testkit.Eventually(t, 5*time.Second, "the net change", func() bool { return slices.Equal(netProviders(dep.patches.all()), want) })
	// The first patch, the held one, the net change, and at most one more if the notifier had not
	// seen every change when the held patch was released.
	if got := dep.received.Load(); got > 4 {
		t.Errorf("%d patches for %d provider changes while one was in flight, want at most 4", got, 2*churn+1)
	}
	t.Logf("patches received: %d; entries: %q", dep.received.Load(), dep.patches.all())
}

// The pending patch is the difference between what the dependent should know and what it was
// last sent: an instance that came and went in between is not mentioned.
func TestDependentMergesPendingChanges(t *testing.T) {
	d := &dependent{names: []string{"A", "B"}, requires: map[string]bool{"A": true, "B": true}, kick: make(chan struct{}, 1),
		want: map[string]map[string]bool{"A": {"a1": true}, "B": {}},
		told: map[string]map[string]bool{"A": {"a1": true}, "B": {}}}
	if _, _, ok := d.next(); ok {
		t.Fatal("a patch with nothing changed")
	}
	d.update("A", []string{"a1", "a2"}) // a2 comes
	d.update("B", []string{"b1"})
	d.update("A", []string{"a2"})       // a1 goes
	d.update("B", []string{"b1", "b2"}) // b2 comes...
	d.update("B", []string{"b1"})       // ...and goes
	p, _, ok := d.next()
	if !ok {
		t.Fatal("no patch pending")
	}
	entries := func(es []patchEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Name+" "+e.URL)
		}
		return out
	}
	if got, want := entries(p.Added), []string{"A a2", "B b1"}; !slices.Equal(got, want) {
		t.Errorf("Added = %q, want %q", got, want)
	}
	if got, want := entries(p.Removed), []string{"A a1"}; !slices.Equal(got, want) {
		t.Errorf("Removed = %q, want %q", got, want)
	}
	if _, _, ok := d.next(); ok {
		t.Error("a second patch pending after the merged one was taken")
	}
}

// TestCourseDependentsSurviveARestart restarts the hub on the same -data: a course-protocol service
// registered before the restart keeps getting its patches after it, and is not told again about
// providers it already knows.
func TestCourseDependentsSurviveARestart(t *testing.T) {
	data := t.TempDir()
	h := startHub(t, "-data", data, "-heartbeat-interval", "100ms")
	passingTTL := &api.AgentServiceCheck{TTL: "10m", Status: api.HealthPassing}
	c := consulClient(t, h.URL(), "")
	if err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "Grades", ID: "grades-1", Address: "127.0.0.1", Port: 6001, Check: passingTTL}); err != nil {
		t.Fatal(err)
	}
	portal := newFakeCourseService(t)
	postCourse(t, h.URL(), portal.registration("Portal", "Grades"))
	h.Stop()

	h2 := startHub(t, "-data", data, "-heartbeat-interval", "100ms")
	c2 := consulClient(t, h2.URL(), "")
	if err := c2.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "Grades", ID: "grades-2", Address: "127.0.0.1", Port: 6002, Check: passingTTL}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the new provider's patch after the restart", func() bool {
		return slices.Contains(portal.patches.all(), "+Grades http://127.0.0.1:6002")
	})
	if err := c2.Agent().ServiceDeregister("grades-1"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the old provider's removal after the restart", func() bool {
		return slices.Contains(portal.patches.all(), "-Grades http://127.0.0.1:6001")
	})
	want := []string{"+Grades http://127.0.0.1:6001", "+Grades http://127.0.0.1:6002", "-Grades http://127.0.0.1:6001"}
	if got := portal.patches.all(); !slices.Equal(got, want) {
		t.Errorf("patches across the restart:\n got %q\nwant %q", got, want)
	}
}
