package portal

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gradebook/gradebook/grading/gradingclient"
	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/registry/registrytest"
)

// movingInstancer is an Instancer whose instances a test changes, as the registry's would when
// an instance starts failing its check or stops.
type movingInstancer struct {
	mu   sync.Mutex
	subs map[chan<- sd.Event]struct{}
	last []string
}

func newMovingInstancer(instances ...string) *movingInstancer {
	return &movingInstancer{subs: map[chan<- sd.Event]struct{}{}, last: instances}
}

func (m *movingInstancer) Register(ch chan<- sd.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs[ch] = struct{}{}
	ch <- sd.Event{Instances: slices.Clone(m.last)}
}

func (m *movingInstancer) Deregister(ch chan<- sd.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.subs, ch)
}

// Stop implements sd.Instancer: there is nothing to stop.
func (m *movingInstancer) Stop() {}

// set publishes instances to every subscriber.
func (m *movingInstancer) set(instances ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.last = instances
	for ch := range m.subs {
		ch <- sd.Event{Instances: slices.Clone(instances)}
	}
}

// scrape reads the portal's /metrics as Prometheus does and returns the gradebook_ samples, each
// under its name and labels as the text format writes them (labels in alphabetical order).
func scrape(client *http.Client, url string) (map[string]float64, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("GET /metrics: %s %s", resp.Status, b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "gradebook_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// waitMetrics polls /metrics until check, given the samples, returns "" (or fails the test with
// its last answer after a generous deadline).
func waitMetrics(t *testing.T, p *servedPortal, check func(map[string]float64) string) map[string]float64 {
	t.Helper()
	var last map[string]float64
	testkit.Until(t, 20*time.Second, func() string {
		var err error
		if last, err = scrape(p.client, p.base+"/metrics"); err != nil {
			return err.Error()
		}
		return check(last)
	})
	return last
}

func breakerSeries(peer, method string) string {
	return fmt.Sprintf(`gradebook_circuit_breaker_state{dependency="grading",method=%q,peer=%q}`, method, peer)
}

func transitionSeries(peer, method, to string) string {
	return fmt.Sprintf(`gradebook_circuit_breaker_transitions_total{dependency="grading",method=%q,peer=%q,to=%q}`, method, peer, to)
}

// withPeer lists the series of samples that name peer.
func withPeer(samples map[string]float64, peer string) []string {
	var out []string
	for k := range samples {
		if strings.Contains(k, `peer="`+peer+`"`) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// TestBreakerAndInstanceMetrics runs the real portal runtime over a real grading instance, on
// each transport, and reads its /metrics: the instance count and every breaker closed at first;
// the instance killed, a read trips GetStudent's breaker, which /metrics shows open along with
// the transition; the instance gone from the registry's answer, its series are deleted and the
// count is 0.
func TestBreakerAndInstanceMetrics(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) { testBreakerAndInstanceMetrics(t, tr) })
	}
}

func testBreakerAndInstanceMetrics(t *testing.T, tr transport) {
	g := startGrading(t)
	peer := tr.addr(g)
	instancer := newMovingInstancer(peer)
	hub := "http://" + registrytest.StartHub(t)
	rt, err := newRuntime([]string{"-listen", "127.0.0.1:0", "-registry", hub, "-log-level", "error", "-grading-transport", tr.name},
		func(string) string { return "" }, io.Discard, instancer)
	if err != nil {
		t.Fatal(err)
	}
	p := servePortal(t, rt)
	instances := fmt.Sprintf(`gradebook_dependency_instances{dependency="grading",transport=%q}`, tr.name)
	waitMetrics(t, p, func(m map[string]float64) string {
		if v, ok := m[instances]; !ok || v != 1 {
			return fmt.Sprintf("%s = %v (present %v), want 1", instances, v, ok)
		}
		for _, method := range gradingMethods {
			if v, ok := m[breakerSeries(peer, method)]; !ok || v != 0 {
				return fmt.Sprintf("%s = %v (present %v), want 0 (closed)", breakerSeries(peer, method), v, ok)
			}
			if v, ok := m[transitionSeries(peer, method, "open")]; !ok || v != 0 {
				return fmt.Sprintf("%s = %v (present %v), want 0 from the start", transitionSeries(peer, method, "open"), v, ok)
			}
		}
		// The log service has no instance in this hub, which has answered so.
		if v, ok := m[`gradebook_dependency_instances{dependency="log",transport="http"}`]; !ok || v != 0 {
			return fmt.Sprintf("log instances = %v (present %v), want 0", v, ok)
		}
		return ""
	})
	if code, body := p.get("/api/v1/students/1"); code != http.StatusOK {
		t.Fatalf("GET /api/v1/students/1 = %d %s", code, body)
	}

	tr.kill(g)
	// One read tries the one instance up to three times (TripAfter), which opens its breaker; a
	// few more make sure of it however the retries fell.
	m := waitMetrics(t, p, func(m map[string]float64) string {
		if code, body := p.get("/api/v1/students/1"); code != http.StatusServiceUnavailable {
			return fmt.Sprintf("GET /api/v1/students/1 with grading killed = %d %s, want 503", code, body)
		}
		if v := m[breakerSeries(peer, "GetStudent")]; v != float64(gradingclient.BreakerOpen) {
			return fmt.Sprintf("%s = %v, want 2 (open)", breakerSeries(peer, "GetStudent"), v)
		}
		return ""
	})
	if v := m[transitionSeries(peer, "GetStudent", "open")]; v < 1 {
		t.Errorf("%s = %v, want at least 1", transitionSeries(peer, "GetStudent", "open"), v)
	}
	if v := m[breakerSeries(peer, "ListStudents")]; v != 0 {
		t.Errorf("ListStudents's breaker = %v, want 0: nothing called it", v)
	}

	instancer.set()
	waitMetrics(t, p, func(m map[string]float64) string {
		if v, ok := m[instances]; !ok || v != 0 {
			return fmt.Sprintf("%s = %v (present %v), want 0", instances, v, ok)
		}
		if left := withPeer(m, peer); len(left) > 0 {
			return fmt.Sprintf("series of the instance that left are still exported: %v", left)
		}
		return ""
	})
	if err := p.stop(t); err != nil {
		t.Fatalf("Serve = %v", err)
	}
}

// TestBreakerChangeOfAGoneInstance checks that a breaker that changes after its instance has left
// (a call still under way) adds no series back, and that an instance that comes back starts with
// its breakers closed.
func TestBreakerChangeOfAGoneInstance(t *testing.T) {
	instancer := newMovingInstancer("127.0.0.1:1", "127.0.0.1:2")
	w := watchDependency("grading", "http", instancer, gradingMethods)
	defer w.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(dependencies{w})
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	instances := `gradebook_dependency_instances{dependency="grading",transport="http"}`
	var m map[string]float64
	wait := func(check func() string) {
		t.Helper()
		testkit.Until(t, 10*time.Second, func() string {
			var err error
			if m, err = scrape(srv.Client(), srv.URL); err != nil {
				return err.Error()
			}
			return check()
		})
	}
	wait(func() string {
		// Per instance, each method's state and its transitions to each of the 3 states.
		if want := 1 + 2*len(gradingMethods)*(1+3); len(m) != want || m[instances] != 2 {
			return fmt.Sprintf("%v: want 2 instances with 4 breakers each, %d series", m, want)
		}
		return ""
	})
	w.OnStateChange("127.0.0.1:1", "GetStudent", gradingclient.BreakerClosed, gradingclient.BreakerOpen)
	instancer.set("127.0.0.1:2")
	wait(func() string {
		if m[instances] != 1 {
			return fmt.Sprintf("instances = %v, want 1", m[instances])
		}
		return ""
	})
	w.OnStateChange("127.0.0.1:1", "GetStudent", gradingclient.BreakerOpen, gradingclient.BreakerHalfOpen)
	wait(func() string {
		if left := withPeer(m, "127.0.0.1:1"); len(left) > 0 {
			return fmt.Sprintf("series of the instance that left: %v", left)
		}
		return ""
	})
	instancer.set("127.0.0.1:1", "127.0.0.1:2")
	wait(func() string {
		if v, ok := m[breakerSeries("127.0.0.1:1", "GetStudent")]; !ok || v != 0 {
			return fmt.Sprintf("the instance back: its breaker = %v (present %v), want 0 (closed)", v, ok)
		}
		if v, ok := m[transitionSeries("127.0.0.1:1", "GetStudent", "open")]; !ok || v != 0 {
			return fmt.Sprintf("the instance back: its transitions to open = %v (present %v), want 0: a new breaker", v, ok)
		}
		return ""
	})
}
