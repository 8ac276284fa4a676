package registry_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	sdconsul "github.com/go-kit/kit/sd/consul"
	"github.com/go-kit/log"
	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/registry/registrytest"
)

// registryBackend names a registry and starts one for a test.
type registryBackend struct {
	name  string
	start func(t *testing.T) registrytest.Backend
}

// registryBackends are the registries every conformance subtest runs against, in the same code:
// the built-in hub (in-process) and a real Consul agent. Their documented differences live in
// registrytest.Backend.
func registryBackends() []registryBackend {
	return []registryBackend{
		{"hub", func(t *testing.T) registrytest.Backend { return registrytest.Hub(registrytest.StartHub(t)) }},
		{"consul", startConsulBackend},
	}
}

func startConsulBackend(t *testing.T) registrytest.Backend {
	return registrytest.ConsulBackend(registrytest.StartConsul(t))
}

// TestConformance drives each backend only through the unmodified consul/api client and go-kit
// sd/consul, so that everything it asserts holds for any service using that one client path.
func TestConformance(t *testing.T) {
	for _, b := range registryBackends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			be := b.start(t)
			for _, tc := range []struct {
				name string
				run  func(*testing.T, registrytest.Backend)
			}{
				{"HTTPCheckFollowsTarget", confHTTPCheckFollowsTarget},
				{"DeregisterRemoves", confDeregisterRemoves},
				{"TTLCheck", confTTLCheck},
				{"TTLExpires", confTTLExpires},
				{"TagsFilter", confTagsFilter},
				{"BlockingQueryWakesOnChange", confBlockingQueryWakes},
				{"BlockingQueryTimesOut", confBlockingQueryTimesOut},
				{"IndexNeverGoesBackwards", confIndexNeverGoesBackwards},
				{"UnknownServiceIs404", confUnknownServiceIs404},
				{"CatalogListsNamesAndTags", confCatalogServices},
				{"InstancerSeesNewAndRemoved", confInstancerSeesNewAndRemoved},
				{"ReapsCriticalService", confReapsCriticalService},
				{"MetaLimitsRefused", confMetaLimitsRefused},
				{"AgentSelf", confAgentSelf},
				{"CheckThresholds", confCheckThresholds},
				{"CheckThresholdsValidated", confCheckThresholdsValidated},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, be)
				})
			}
		})
	}
}

// An HTTP check registered by a service follows its target: passing on 2xx, warning on 429,
// critical on 500 and on a dead target, each change seen within two check intervals.
func confHTTPCheckFollowsTarget(t *testing.T, be registrytest.Backend) {
	c := be.Client(t)
	tg := registrytest.NewTarget(t)
	name, id := registrytest.ServiceName(t), registrytest.ServiceName(t)+"-1"
	interval := be.Interval(200 * time.Millisecond)
	registrytest.Register(t, c, &api.AgentServiceRegistration{
		ID: id, Name: name, Address: tg.Host(), Port: tg.Port(),
		Check: &api.AgentServiceCheck{HTTP: tg.HealthURL(), Interval: interval.String(), Timeout: "1s"},
	})
	took := registrytest.WaitStatus(t, c, name, id, api.HealthPassing, be.FirstCheckWithin(interval))
	t.Logf("%s: first check passing %v after registration (interval %v)", be.Name, took.Round(time.Millisecond), interval)
	if !slices.Contains(registrytest.PassingIDs(t, c, name, ""), id) {
		t.Fatalf("%s is passing but not in ?passing", id)
	}

	for _, step := range []struct {
		code int // 0 kills the target
		want string
	}{
		{http.StatusTooManyRequests, api.HealthWarning},
		{http.StatusInternalServerError, api.HealthCritical},
		{http.StatusOK, api.HealthPassing},
		{0, api.HealthCritical},
	} {
		if step.code == 0 {
			tg.Close()
		} else {
			tg.SetStatus(step.code)
		}
		took := registrytest.WaitStatus(t, c, name, id, step.want, be.DetectWithin(interval))
		t.Logf("%s: target answering %d → %s after %v", be.Name, step.code, step.want, took.Round(time.Millisecond))
		if got := slices.Contains(registrytest.PassingIDs(t, c, name, ""), id); got != (step.want == api.HealthPassing) {
			t.Errorf("with the check %s, ?passing lists it: %v", step.want, got)
		}
	}
}

// A check's thresholds hold its status until enough results in a row agree
// (SuccessBeforePassing, FailuresBeforeWarning, FailuresBeforeCritical), except for the first
// result, which counts at once; a result held back is forgotten by the next one that differs.
func confCheckThresholds(t *testing.T, be registrytest.Backend) {
	c := be.Client(t)
	tg := registrytest.NewTarget(t)
	name, id := registrytest.ServiceName(t), registrytest.ServiceName(t)+"-1"
	// Long enough that the test's own steps fit between two checks on a loaded machine.
	interval := be.Interval(500 * time.Millisecond)
	registrytest.Register(t, c, &api.AgentServiceRegistration{
		ID: id, Name: name, Address: tg.Host(), Port: tg.Port(),
		Check: &api.AgentServiceCheck{HTTP: tg.HealthURL(), Interval: interval.String(), Timeout: "1s",
			SuccessBeforePassing: 2, FailuresBeforeWarning: 2, FailuresBeforeCritical: 3},
	})
	// The first result counts at once, whatever the thresholds.
	registrytest.WaitStatus(t, c, name, id, api.HealthPassing, be.FirstCheckWithin(interval))

	// One failure between successes changes nothing: the status stays passing while that
	// failure is the latest result (without thresholds it would be critical until the next check).
	tg.SetStatus(http.StatusInternalServerError)
	for tg.Answered(http.StatusInternalServerError) < 1 {
		time.Sleep(interval / 20)
	}
	ok := tg.Answered(http.StatusOK)
	tg.SetStatus(http.StatusOK)
	for tg.Answered(http.StatusOK) == ok {
		if hc := registrytest.ServiceCheck(t, c, name, id); hc == nil || hc.Status != api.HealthPassing {
			t.Fatalf("%s: after one failure the check is %+v; want it still passing", be.Name, hc)
		}
		time.Sleep(interval / 20)
	}

	failed := tg.Answered(http.StatusInternalServerError)
	tg.SetStatus(http.StatusInternalServerError)
	registrytest.WaitStatus(t, c, name, id, api.HealthWarning, 2*interval+be.DetectWithin(interval))
	if n := tg.Answered(http.StatusInternalServerError) - failed; n < 2 {
		t.Errorf("%s: warning after %d failures in a row; FailuresBeforeWarning is 2", be.Name, n)
	}
	registrytest.WaitStatus(t, c, name, id, api.HealthCritical, be.DetectWithin(interval))
	if n := tg.Answered(http.StatusInternalServerError) - failed; n < 3 {
		t.Errorf("%s: critical after %d failures in a row; FailuresBeforeCritical is 3", be.Name, n)
	}

	// Back to passing only after two successes in a row.
	ok = tg.Answered(http.StatusOK)
	tg.SetStatus(http.StatusOK)
	registrytest.WaitStatus(t, c, name, id, api.HealthPassing, interval+be.DetectWithin(interval))
	if n := tg.Answered(http.StatusOK) - ok; n < 2 {
		t.Errorf("%s: passing again after %d successes in a row; SuccessBeforePassing is 2", be.Name, n)
	}
}

// Thresholds that cannot hold together are refused at registration.
func confCheckThresholdsValidated(t *testing.T, be registrytest.Backend) {
	c := be.Client(t)
	name := registrytest.ServiceName(t)
	err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: name + "-1", Name: name, Address: "127.0.0.1", Port: 1,
		Check: &api.AgentServiceCheck{HTTP: "http://127.0.0.1:1/health", Interval: "1s",
			FailuresBeforeWarning: 3, FailuresBeforeCritical: 2},
	})
	if err == nil {
		t.Fatalf("%s: FailuresBeforeWarning 3 with FailuresBeforeCritical 2 was accepted", be.Name)
	}
	t.Logf("%s: refused: %v", be.Name, err)
}

func confDeregisterRemoves(t *testing.T, be registrytest.Backend) {
	c := be.Client(t)
	name, id := registrytest.ServiceName(t), registrytest.ServiceName(t)+"-1"
	registrytest.Register(t, c, registrytest.PassingReg(id, name, 21001))
	registrytest.WaitIDs(t, c, name, "", []string{id})
	if _, _, err := c.Agent().Service(id, nil); err != nil {
		t.Fatalf("agent service %s: %v", id, err)
	}
	if err := c.Agent().ServiceDeregister(id); err != nil {
		t.Fatalf("deregister: %v", err)
	}
	if _, _, err := c.Agent().Service(id, nil); !registrytest.IsStatus(err, http.StatusNotFound) {
		t.Errorf("agent service after deregister: err = %v, want 404", err)
	}
	if _, ok := confAgentServices(t, c)[id]; ok {
		t.Errorf("agent services still lists %s", id)
	}
	registrytest.WaitIDs(t, c, name, "", nil)
}

// A TTL check is kept alive by the service: pass, warn and fail move it, with their output, and
// it starts critical until the first pass, as in Consul.
func confTTLCheck(t *testing.T, be registrytest.Backend) {
	c := be.Client(t)
	name, id := registrytest.ServiceName(t), registrytest.ServiceName(t)+"-1"
	registrytest.Register(t, c, &api.AgentServiceRegistration{
		ID: id, Name: name, Address: "127.0.0.1", Port: 21002,
		Check: &api.AgentServiceCheck{TTL: "30s"},
	})
	checkID := "service:" + id // Consul's ID for a registration's single check
	registrytest.WaitStatus(t, c, name, id, api.HealthCritical, 2*time.Second)
	for _, step := range []struct {
		update func() error
		want   string
		output string
	}{
		{func() error { return c.Agent().PassTTL(checkID, "pass note") }, api.HealthPassing, "pass note"},
		{func() error { return c.Agent().WarnTTL(checkID, "warn note") }, api.HealthWarning, "warn note"},
		{func() error { return c.Agent().FailTTL(checkID, "fail note") }, api.HealthCritical, "fail note"},
		{func() error { return c.Agent().UpdateTTL(checkID, "all good", "pass") }, api.HealthPassing, "all good"},
		{func() error { return c.Agent().UpdateTTL(checkID, "slow", api.HealthWarning) }, api.HealthWarning, "slow"},
	} {
		if err := step.update(); err != nil {
			t.Fatalf("TTL update to %s: %v", step.want, err)
		}
		registrytest.WaitStatus(t, c, name, id, step.want, 2*time.Second)
		if hc := registrytest.ServiceCheck(t, c, name, id); hc == nil || hc.Output != step.output {
			t.Errorf("after %s: check = %+v, want output %q", step.want, hc, step.output)
		}
	}
	if err := c.Agent().PassTTL("service:no-such-check-"+id, ""); err == nil {
		t.Error("a TTL update for an unknown check was accepted")
	}
}

// A TTL check that is not renewed within its TTL turns critical.
func confTTLExpires(t *testing.T, be registrytest.Backend) {
	c := be.Client(t)
	name, id := registrytest.ServiceName(t), registrytest.ServiceName(t)+"-1"
	registrytest.Register(t, c, &api.AgentServiceRegistration{
		ID: id, Name: name, Address: "127.0.0.1", Port: 21003,
		Check: &api.AgentServiceCheck{CheckID: id + "-ttl", TTL: "1s"},
	})
	if err := c.Agent().PassTTL(id+"-ttl", ""); err != nil {
		t.Fatalf("pass: %v", err)
	}
	start := time.Now()
	registrytest.WaitStatus(t, c, name, id, api.HealthPassing, 2*time.Second)
	registrytest.WaitStatus(t, c, name, id, api.HealthCritical, 3*time.Second)
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("the TTL check expired after %v, before its 1s TTL", d)
	}
}

// Tag filters: one tag and several through consul/api, and several through go-kit's Instancer,
// which asks for the first and filters the rest itself.
func confTagsFilter(t *testing.T, be registrytest.Backend) {
	c := be.Client(t)
	name := registrytest.ServiceName(t)
	regs := map[string][]string{"a": {"blue", "v1"}, "b": {"blue", "v2"}, "c": {"green", "v1"}}
	port := 21010
	for suffix, tags := range regs {
		port++
		r := registrytest.PassingReg(name+"-"+suffix, name, port)
		r.Tags = tags
		registrytest.Register(t, c, r)
	}
	registrytest.WaitIDs(t, c, name, "", []string{name + "-a", name + "-b", name + "-c"})
	for _, tc := range []struct {
		tags []string
		want []string
	}{
		{[]string{"blue"}, []string{name + "-a", name + "-b"}},
		{[]string{"v1"}, []string{name + "-a", name + "-c"}},
		{[]string{"blue", "v1"}, []string{name + "-a"}},
		{[]string{"green", "v2"}, nil},
		{[]string{"red"}, nil},
	} {
		entries, _, err := c.Health().ServiceMultipleTags(name, tc.tags, true, nil)
		if err != nil {
			t.Fatalf("tags %v: %v", tc.tags, err)
		}
		if got := registrytest.IDs(entries); !slices.Equal(got, tc.want) {
			t.Errorf("tags %v: got %v, want %v", tc.tags, got, tc.want)
		}
		if len(tc.tags) == 1 {
			entries, _, err := c.Health().Service(name, tc.tags[0], true, nil)
			if err != nil {
				t.Fatalf("tag %v: %v", tc.tags, err)
			}
			if got := registrytest.IDs(entries); !slices.Equal(got, tc.want) {
				t.Errorf("tag %v: got %v, want %v", tc.tags, got, tc.want)
			}
		}
	}
	in := sdconsul.NewInstancer(sdconsul.NewClient(c), log.NewNopLogger(), name, []string{"blue", "v2"}, true)
	defer in.Stop()
	events := make(chan sd.Event, 16)
	in.Register(events)
	defer in.Deregister(events)
	want := []string{fmt.Sprintf("127.0.0.1:%d", confPortOf(t, c, name+"-b"))}
	registrytest.WaitEvent(t, events, 5*time.Second, func(inst []string) bool { return slices.Equal(inst, want) })
}

// A blocking query parked at the current index answers as soon as the service changes.
func confBlockingQueryWakes(t *testing.T, be registrytest.Backend) {
	c := be.Client(t)
	name := registrytest.ServiceName(t)
	registrytest.Register(t, c, registrytest.PassingReg(name+"-1", name, 21021))
	registrytest.WaitIDs(t, c, name, "", []string{name + "-1"})
	_, meta, err := c.Health().Service(name, "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	type answer struct {
		ids   []string
		index uint64
		at    time.Time
		err   error
	}
	done := make(chan answer, 1)
	queryStart := time.Now()
	go func() {
		entries, m, err := c.Health().Service(name, "", false, &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 10 * time.Second})
		a := answer{at: time.Now(), err: err}
		if err == nil {
			a.ids, a.index = registrytest.IDs(entries), m.LastIndex
		}
		done <- a
	}()
	// Give the query time to reach the registry and park there, so that what is measured is a
	// parked query being woken, not a query that arrived after the change.
	select {
	case a := <-done:
		t.Fatalf("the blocking query answered before any change: %+v", a)
	case <-time.After(200 * time.Millisecond):
	}
	changed := time.Now()
	registrytest.Register(t, c, registrytest.PassingReg(name+"-2", name, 21022))
	var a answer
	select {
	case a = <-done:
	case <-time.After(8 * time.Second):
		t.Fatal("the blocking query did not wake on a change")
	}
	if a.err != nil {
		t.Fatal(a.err)
	}
	if a.index <= meta.LastIndex {
		t.Errorf("woke with index %d, not above %d", a.index, meta.LastIndex)
	}
	if !slices.Contains(a.ids, name+"-2") {
		// Consul may wake a query on a change that is not yet the one we made; the next
		// answer must have it.
		registrytest.WaitIDs(t, c, name, "", []string{name + "-1", name + "-2"})
	}
	t.Logf("%s: blocking query woke %v after the registration call started (parked %v)",
		be.Name, a.at.Sub(changed).Round(100*time.Microsecond), changed.Sub(queryStart).Round(time.Millisecond))
}

// A blocking query with nothing changing answers when its wait runs out, with the same index.
func confBlockingQueryTimesOut(t *testing.T, be registrytest.Backend) {
	c := be.Client(t)
	name := registrytest.ServiceName(t)
	registrytest.Register(t, c, registrytest.PassingReg(name+"-1", name, 21031))
	registrytest.WaitIDs(t, c, name, "", []string{name + "-1"})
	_, meta, err := c.Health().Service(name, "", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	const wait = 500 * time.Millisecond
	start := time.Now()
	entries, m, err := c.Health().Service(name, "", false, &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: wait})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	// Consul adds up to wait/16 of jitter; both may be a little late on a loaded machine.
	if took < wait*9/10 || took > wait+2*time.Second {
		t.Errorf("a query with wait=%v answered after %v", wait, took)
	}
	if m.LastIndex != meta.LastIndex {
		t.Errorf("index moved from %d to %d with nothing changed", meta.LastIndex, m.LastIndex)
	}
	if got := registrytest.IDs(entries); !slices.Equal(got, []string{name + "-1"}) {
		t.Errorf("timed-out query answered %v", got)
	}
	t.Logf("%s: wait=%v answered after %v", be.Name, wait, took.Round(time.Millisecond))
}

// X-Consul-Index is at least 1 and never goes backwards while a service is registered, updated
// and deregistered, on every read endpoint, and a chain of blocking queries sees it only rise.
func confIndexNeverGoesBackwards(t *testing.T, be registrytest.Backend) {
	c := be.Client(t)
	name := registrytest.ServiceName(t)
	last := map[string]uint64{}
	observe := func(step string) {
		t.Helper()
		_, hm, err := c.Health().Service(name, "", false, nil)
		if err != nil {
			t.Fatalf("%s: health: %v", step, err)
		}
		_, cm, err := c.Catalog().Services(nil)
		if err != nil {
			t.Fatalf("%s: catalog: %v", step, err)
		}
		for endpoint, idx := range map[string]uint64{"health": hm.LastIndex, "catalog": cm.LastIndex} {
			if idx < 1 {
				t.Errorf("%s: %s index %d, want ≥ 1", step, endpoint, idx)
			}
			if idx < last[endpoint] {
				t.Errorf("%s: %s index went back from %d to %d", step, endpoint, last[endpoint], idx)
			}
			last[endpoint] = idx
		}
	}

	// A go-kit style chain of blocking queries runs alongside the changes.
	var chainErr atomic.Value
	stop := make(chan struct{})
	chainDone := make(chan int)
	go func() {
		var idx uint64
		wakes := 0
		defer func() { chainDone <- wakes }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, m, err := c.Health().Service(name, "", false, &api.QueryOptions{WaitIndex: idx, WaitTime: 300 * time.Millisecond})
			if err != nil {
				chainErr.Store(err)
				return
			}
			if m.LastIndex < idx {
				chainErr.Store(fmt.Errorf("blocking query index went back from %d to %d", idx, m.LastIndex))
				return
			}
			idx = m.LastIndex
			wakes++
		}
	}()

	observe("start")
	for i := range 10 {
		id := fmt.Sprintf("%s-%d", name, i)
		registrytest.Register(t, c, &api.AgentServiceRegistration{
			ID: id, Name: name, Address: "127.0.0.1", Port: 21040 + i,
			Check: &api.AgentServiceCheck{CheckID: id + "-ttl", TTL: "1m"},
		})
		observe("register " + id)
		if err := c.Agent().PassTTL(id+"-ttl", ""); err != nil {
			t.Fatal(err)
		}
		observe("pass " + id)
		if i%2 == 1 {
			if err := c.Agent().ServiceDeregister(id); err != nil {
				t.Fatal(err)
			}
			observe("deregister " + id)
		}
	}
	close(stop)
	wakes := <-chainDone
	if err, _ := chainErr.Load().(error); err != nil {
		t.Error(err)
	}
	t.Logf("%s: final indexes %v; the blocking-query chain answered %d times", be.Name, last, wakes)
}

func confUnknownServiceIs404(t *testing.T, be registrytest.Backend) {
	c := be.Client(t)
	svc, _, err := c.Agent().Service("no-such-service-"+registrytest.ServiceName(t), nil)
	if !registrytest.IsStatus(err, http.StatusNotFound) {
		t.Errorf("unknown service: got %+v, err %v; want a 404", svc, err)
	}
}

func confCatalogServices(t *testing.T, be registrytest.Backend) {
	c := be.Client(t)
	name := registrytest.ServiceName(t)
	r1 := registrytest.PassingReg(name+"-a-1", name+"-a", 21061)
	r1.Tags = []string{"x", "y"}
	r2 := registrytest.PassingReg(name+"-a-2", name+"-a", 21062)
	r2.Tags = []string{"y", "z"}
	r3 := registrytest.PassingReg(name+"-b-1", name+"-b", 21063)
	for _, r := range []*api.AgentServiceRegistration{r1, r2, r3} {
		registrytest.Register(t, c, r)
	}
	var got map[string][]string
	testkit.Eventually(t, 5*time.Second, "catalog lists both names", func() bool {
		m, _, err := c.Catalog().Services(nil)
		if err != nil {
			t.Fatal(err)
		}
		got = m
		_, okA := m[name+"-a"]
		_, okB := m[name+"-b"]
		return okA && okB
	})
	tags := slices.Clone(got[name+"-a"])
	slices.Sort(tags)
	if !slices.Equal(slices.Compact(tags), []string{"x", "y", "z"}) {
		t.Errorf("tags of %s-a = %v, want x y z", name, got[name+"-a"])
	}
	if len(got[name+"-b"]) != 0 {
		t.Errorf("tags of %s-b = %v, want none", name, got[name+"-b"])
	}
}

// go-kit's Instancer, as every dependent service uses it, sees an instance arrive and leave.
func confInstancerSeesNewAndRemoved(t *testing.T, be registrytest.Backend) {
	c := be.Client(t)
	name := registrytest.ServiceName(t)
	in := sdconsul.NewInstancer(sdconsul.NewClient(c), log.NewNopLogger(), name, nil, true)
	defer in.Stop()
	events := make(chan sd.Event, 16)
	in.Register(events)
	defer in.Deregister(events)
	registrytest.WaitEvent(t, events, 5*time.Second, func(inst []string) bool { return len(inst) == 0 })

	registrytest.Register(t, c, registrytest.PassingReg(name+"-1", name, 21071))
	registrytest.WaitEvent(t, events, 5*time.Second, func(inst []string) bool {
		return slices.Equal(inst, []string{"127.0.0.1:21071"})
	})
	registrytest.Register(t, c, registrytest.PassingReg(name+"-2", name, 21072))
	registrytest.WaitEvent(t, events, 5*time.Second, func(inst []string) bool { return len(inst) == 2 })
	if err := c.Agent().ServiceDeregister(name + "-1"); err != nil {
		t.Fatal(err)
	}
	registrytest.WaitEvent(t, events, 5*time.Second, func(inst []string) bool {
		return slices.Equal(inst, []string{"127.0.0.1:21072"})
	})
}

// A service whose check stays critical for DeregisterCriticalServiceAfter is removed.
func confReapsCriticalService(t *testing.T, be registrytest.Backend) {
	const after = 500 * time.Millisecond
	if be.MinReap > 10*time.Second {
		t.Skipf("%s reaps no sooner than %v (a documented difference, see registrytest.Backend); too slow for this suite", be.Name, be.MinReap)
	}
	c := be.Client(t)
	tg := registrytest.NewTarget(t)
	tg.SetStatus(http.StatusInternalServerError)
	name, id := registrytest.ServiceName(t), registrytest.ServiceName(t)+"-1"
	interval := be.Interval(100 * time.Millisecond)
	registrytest.Register(t, c, &api.AgentServiceRegistration{
		ID: id, Name: name, Address: tg.Host(), Port: tg.Port(),
		Check: &api.AgentServiceCheck{HTTP: tg.HealthURL(), Interval: interval.String(), DeregisterCriticalServiceAfter: after.String()},
	})
	registrytest.WaitStatus(t, c, name, id, api.HealthCritical, be.FirstCheckWithin(interval))
	took := testkit.Eventually(t, after+be.MinReap+be.DetectWithin(interval), "a critical service is reaped", func() bool {
		_, _, err := c.Agent().Service(id, nil)
		return registrytest.IsStatus(err, http.StatusNotFound)
	})
	registrytest.WaitIDs(t, c, name, "", nil)
	t.Logf("%s: reaped %v after its check was seen critical (DeregisterCriticalServiceAfter %v)", be.Name, took.Round(time.Millisecond), after)
}

func confAgentServices(t testing.TB, c *api.Client) map[string]*api.AgentService {
	t.Helper()
	m, err := c.Agent().Services()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func confPortOf(t testing.TB, c *api.Client, id string) int {
	t.Helper()
	s, _, err := c.Agent().Service(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s.Port
}

// Meta breaking Consul's own rules (at most 64 pairs; keys of [a-zA-Z0-9_-], at most 128 bytes,
// not starting with "consul-"; values of at most 512 bytes) is a 400, and nothing is registered.
// The hub's other limits (IDs, names, tags) are its own and are tested beside it: Consul takes
// what they refuse.
func confMetaLimitsRefused(t *testing.T, be registrytest.Backend) {
	c := be.Client(t)
	name := registrytest.ServiceName(t)
	many := map[string]string{}
	for i := range 65 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	for what, meta := range map[string]map[string]string{
		"65 pairs":              many,
		"a key with a dot":      {"a.b": "v"},
		"a key of 129 bytes":    {strings.Repeat("k", 129): "v"},
		"a key prefixed consul": {"consul-version": "1"},
		"a value of 513 bytes":  {"k": strings.Repeat("v", 513)},
	} {
		id := name + "-" + strings.ReplaceAll(what, " ", "-")
		err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{ID: id, Name: name, Port: 21010, Meta: meta})
		if !registrytest.IsStatus(err, http.StatusBadRequest) {
			t.Errorf("%s: meta with %s = %v; want 400", be.Name, what, err)
			_ = c.Agent().ServiceDeregister(id)
		}
	}
	atLimits := map[string]string{strings.Repeat("k", 128): strings.Repeat("v", 512)}
	for i := range 63 {
		atLimits[fmt.Sprintf("k_%d-x", i)] = "v"
	}
	registrytest.Register(t, c, &api.AgentServiceRegistration{ID: name + "-ok", Name: name, Port: 21010, Meta: atLimits})
	if services := confAgentServices(t, c); len(services[name+"-ok"].Meta) != 64 {
		t.Errorf("%s: meta at every limit kept %d pairs; want 64", be.Name, len(services[name+"-ok"].Meta))
	}
}

// /v1/agent/self names the agent's datacenter and node, and the member it is, as clients read
// them: consul/api's Agent().NodeName(), and Prometheus's Consul discovery, which finds nothing
// until it knows the datacenter.
func confAgentSelf(t *testing.T, be registrytest.Backend) {
	c := be.Client(t)
	self, err := c.Agent().Self()
	if err != nil {
		t.Fatalf("Agent().Self(): %v", err)
	}
	dc, _ := self["Config"]["Datacenter"].(string)
	node, _ := self["Config"]["NodeName"].(string)
	if dc == "" || node == "" {
		t.Fatalf("Config.Datacenter = %q, Config.NodeName = %q; want both", dc, node)
	}
	if name, err := c.Agent().NodeName(); err != nil || name != node {
		t.Errorf("Agent().NodeName() = %q, %v; want %q", name, err, node)
	}
	if name, _ := self["Member"]["Name"].(string); name != node {
		t.Errorf("Member.Name = %q; want the node, %q", name, node)
	}
	if addr, _ := self["Member"]["Addr"].(string); addr == "" {
		t.Error("Member.Addr is empty")
	}
	if status, _ := self["Member"]["Status"].(float64); status != 1 {
		t.Errorf("Member.Status = %v; want 1 (alive)", self["Member"]["Status"])
	}
}
