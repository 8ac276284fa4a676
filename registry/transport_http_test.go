package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/internal/testkit"
)

func TestRegisterHealthDeregister(t *testing.T) {
	h := startHub(t)
	c := consulClient(t, h.URL(), "")
	tg := newTarget(t, http.StatusOK)

	reg := &api.AgentServiceRegistration{
		Name: "grading", ID: "grading-1", Address: "127.0.0.1", Port: 6000, Tags: []string{"v1", "blue"},
		Meta:  map[string]string{"version": "1"},
		Check: &api.AgentServiceCheck{HTTP: tg.URL + "/health", Interval: "100ms", Timeout: "50ms"},
	}
	if err := c.Agent().ServiceRegister(reg); err != nil {
		t.Fatalf("register: %v", err)
	}
	svc, _, err := c.Agent().Service("grading-1", nil)
	if err != nil {
		t.Fatalf("agent service: %v", err)
	}
	if svc.Service != "grading" || svc.Port != 6000 || svc.Meta["version"] != "1" || !slices.Equal(svc.Tags, []string{"v1", "blue"}) {
		t.Errorf("agent service = %+v", svc)
	}
	testkit.Eventually(t, 3*time.Second, "check passing", func() bool { return checkStatus(t, c, "service:grading-1") == api.HealthPassing })

	checks, _ := c.Agent().Checks()
	ch := checks["service:grading-1"]
	if ch.Name != "Service 'grading' check" || ch.Type != "http" || ch.Output != "HTTP GET "+tg.URL+"/health: 200 OK" {
		t.Errorf("check = %+v", ch)
	}

	entries, meta, err := c.Health().Service("grading", "v1", true, nil)
	if err != nil {
		t.Fatalf("health: %v", err)
	}
	if len(entries) != 1 || entries[0].Service.ID != "grading-1" || entries[0].Node.Address != "127.0.0.1" || entries[0].Node.Node == "" {
		t.Fatalf("entries = %+v", entries)
	}
	if meta.LastIndex < 1 {
		t.Errorf("LastIndex = %d", meta.LastIndex)
	}
	if entries, _, _ := c.Health().Service("grading", "green", true, nil); len(entries) != 0 {
		t.Errorf("tag filter let through %d entries", len(entries))
	}
	if entries, _, _ := c.Health().ServiceMultipleTags("grading", []string{"v1", "blue"}, true, nil); len(entries) != 1 {
		t.Errorf("two tags: %d entries, want 1", len(entries))
	}

	services, err := c.Agent().Services()
	if err != nil || services["grading-1"] == nil {
		t.Fatalf("agent services = %v, %v", services, err)
	}
	names, _, err := c.Catalog().Services(nil)
	if err != nil || !slices.Equal(names["grading"], []string{"blue", "v1"}) {
		t.Fatalf("catalog services = %v, %v", names, err)
	}
	leader, err := c.Status().Leader()
	if err != nil || leader == "" {
		t.Fatalf("leader = %q, %v", leader, err)
	}

	if err := c.Agent().ServiceDeregister("grading-1"); err != nil {
		t.Fatalf("deregister: %v", err)
	}
	if _, _, err := c.Agent().Service("grading-1", nil); !isStatus(err, 404) {
		t.Errorf("agent service after deregister: err = %v, want 404", err)
	}
	if err := c.Agent().ServiceDeregister("grading-1"); !isStatus(err, 404) {
		t.Errorf("second deregister: err = %v, want 404", err)
	}
	if entries, _, _ := c.Health().Service("grading", "", false, nil); len(entries) != 0 {
		t.Errorf("health after deregister: %d entries", len(entries))
	}
}

func isStatus(err error, code int) bool {
	var se api.StatusError
	return errors.As(err, &se) && se.Code == code
}

func TestCheckIDsAndReplacement(t *testing.T) {
	h := startHub(t)
	c := consulClient(t, h.URL(), "")
	tg := newTarget(t, http.StatusOK)
	reg := &api.AgentServiceRegistration{Name: "portal", Port: 5000, Checks: api.AgentServiceChecks{
		{HTTP: tg.URL, Interval: "1s"},
		{TTL: "10s"},
		{CheckID: "mine", Name: "named", TTL: "10s", Status: api.HealthPassing},
	}}
	if err := c.Agent().ServiceRegister(reg); err != nil {
		t.Fatal(err)
	}
	checks, _ := c.Agent().Checks()
	for _, id := range []string{"service:portal:1", "service:portal:2", "mine"} {
		if checks[id] == nil || checks[id].ServiceID != "portal" {
			t.Errorf("check %q missing or wrong: %+v", id, checks[id])
		}
	}
	if got := checks["mine"]; got == nil || got.Status != api.HealthPassing || got.Name != "named" {
		t.Errorf("check mine = %+v, want passing and named", got)
	}
	if got := checks["service:portal:2"]; got == nil || got.Status != api.HealthCritical {
		t.Errorf("a new TTL check without Status must start critical: %+v", got)
	}
	// Registering the same ID again replaces the service and its checks.
	reg.Checks = nil
	reg.Tags = []string{"new"}
	if err := c.Agent().ServiceRegister(reg); err != nil {
		t.Fatal(err)
	}
	checks, _ = c.Agent().Checks()
	if len(checks) != 1 { // only the hub's own check is left
		t.Errorf("after replacement: %d checks, want only the hub's own", len(checks))
	}
	svc, _, _ := c.Agent().Service("portal", nil)
	if !slices.Equal(svc.Tags, []string{"new"}) {
		t.Errorf("tags after replacement = %v", svc.Tags)
	}
}

func TestHTTPCheckSemantics(t *testing.T) {
	h := startHub(t)
	c := consulClient(t, h.URL(), "")
	slow := make(chan struct{})
	t.Cleanup(func() { close(slow) })
	slowSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-slow:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slowSrv.Close)
	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr
	}()
	cases := []struct {
		name, url, want, output string
	}{
		{"200", newTarget(t, 200).URL, api.HealthPassing, "200 OK"},
		{"204", newTarget(t, 204).URL, api.HealthPassing, "204 No Content"},
		{"429", newTarget(t, 429).URL, api.HealthWarning, "429 Too Many Requests"},
		{"500", newTarget(t, 500).URL, api.HealthCritical, "500 Internal Server Error"},
		{"404", newTarget(t, 404).URL, api.HealthCritical, "404 Not Found"},
		{"timeout", slowSrv.URL, api.HealthCritical, "deadline exceeded"},
		{"refused", refused, api.HealthCritical, "connection refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := "svc-" + tc.name
			// Status passing first, so that a critical result is a real change.
			err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "semantics", ID: id, Check: &api.AgentServiceCheck{
				HTTP: tc.url, Interval: "200ms", Timeout: "100ms", Status: api.HealthPassing,
			}})
			if err != nil {
				t.Fatal(err)
			}
			var got *api.AgentCheck
			testkit.Eventually(t, 3*time.Second, "check result "+tc.want, func() bool {
				checks, err := c.Agent().Checks()
				got = checks["service:"+id]
				return err == nil && got != nil && got.Status == tc.want && strings.Contains(got.Output, tc.output)
			})
			t.Logf("%s: %s: %s", tc.name, got.Status, got.Output)
		})
	}
}

func TestFailingTargetGoesCriticalAndIsReaped(t *testing.T) {
	h := startHub(t)
	c := consulClient(t, h.URL(), "")
	tg := newTarget(t, http.StatusOK)
	err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "doomed", Check: &api.AgentServiceCheck{
		HTTP: tg.URL, Interval: "100ms", DeregisterCriticalServiceAfter: "300ms",
	}})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 3*time.Second, "passing", func() bool { return checkStatus(t, c, "service:doomed") == api.HealthPassing })
	tg.status.Store(http.StatusServiceUnavailable)
	begin := time.Now()
	testkit.Eventually(t, 3*time.Second, "critical", func() bool { return checkStatus(t, c, "service:doomed") == api.HealthCritical })
	t.Logf("critical after %v", time.Since(begin))
	testkit.Eventually(t, 5*time.Second, "reaped", func() bool {
		_, _, err := c.Agent().Service("doomed", nil)
		return isStatus(err, 404)
	})
	t.Logf("reaped after %v (DeregisterCriticalServiceAfter 300ms)", time.Since(begin))
}

func TestTTLChecks(t *testing.T) {
	h := startHub(t)
	c := consulClient(t, h.URL(), "")
	tg := newTarget(t, 200)
	err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "ttl", Checks: api.AgentServiceChecks{
		{CheckID: "beat", TTL: "300ms"},
		{CheckID: "http", HTTP: tg.URL, Interval: "1s"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	a := c.Agent()
	steps := []struct {
		do   func() error
		want string
	}{
		{func() error { return a.PassTTL("beat", "fine") }, api.HealthPassing},
		{func() error { return a.WarnTTL("beat", "meh") }, api.HealthWarning},
		{func() error { return a.FailTTL("beat", "bad") }, api.HealthCritical},
		{func() error { return a.UpdateTTL("beat", "updated", api.HealthPassing) }, api.HealthPassing},
	}
	for i, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := checkStatus(t, c, "beat"); got != s.want {
			t.Fatalf("step %d: status %q, want %q", i, got, s.want)
		}
	}
	checks, _ := a.Checks()
	if checks["beat"].Output != "updated" {
		t.Errorf("output = %q, want the update's", checks["beat"].Output)
	}
	// No update within the TTL: critical.
	testkit.Eventually(t, 3*time.Second, "TTL expiry", func() bool {
		checks, _ := a.Checks()
		return checks["beat"].Status == api.HealthCritical && checks["beat"].Output == "TTL expired"
	})
	if err := a.PassTTL("nope", ""); !isStatus(err, 404) {
		t.Errorf("pass on an unknown check: %v, want 404", err)
	}
	if err := a.PassTTL("http", ""); !isStatus(err, 400) {
		t.Errorf("pass on an HTTP check: %v, want 400", err)
	}
}

func TestBlockingQueries(t *testing.T) {
	h := startHub(t)
	c := consulClient(t, h.URL(), "")

	_, meta, err := c.Health().Service("grading", "", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		entries []*api.ServiceEntry
		index   uint64
		took    time.Duration
		err     error
	}
	results := make(chan result, 1)
	go func() {
		begin := time.Now()
		e, m, err := c.Health().Service("grading", "", true, &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 10 * time.Second})
		r := result{entries: e, took: time.Since(begin), err: err}
		if m != nil {
			r.index = m.LastIndex
		}
		results <- r
	}()
	// The query must be waiting in the hub before the change, or it could not be woken by it.
	testkit.Eventually(t, 5*time.Second, "the query waiting in the hub", func() bool { return parked(h.cat, "grading") })
	// A change to another name must not wake the query.
	if err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "other"}); err != nil {
		t.Fatal(err)
	}
	// Nothing is meant to happen here: a short wait lets a wrong wake-up reach results.
	time.Sleep(50 * time.Millisecond)
	select {
	case r := <-results:
		t.Fatalf("woke on an unrelated change: %+v", r)
	default:
	}
	if err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "grading", ID: "g1", Port: 6000}); err != nil {
		t.Fatal(err)
	}
	r := <-results
	if r.err != nil || len(r.entries) != 1 || r.index <= meta.LastIndex {
		t.Fatalf("woken query: %+v (index before %d)", r, meta.LastIndex)
	}
	t.Logf("blocking query woke %v after it started", r.took)

	// No change: the query answers when wait runs out, with the same index.
	begin := time.Now()
	_, m2, err := c.Health().Service("grading", "", true, &api.QueryOptions{WaitIndex: r.index, WaitTime: 200 * time.Millisecond})
	if err != nil || m2.LastIndex != r.index {
		t.Fatalf("timed-out query: index %d err %v, want %d", m2.LastIndex, err, r.index)
	}
	t.Logf("wait=200ms answered after %v", time.Since(begin))

	// An index from the future (a restarted hub) answers at once.
	_, m3, err := c.Health().Service("grading", "", true, &api.QueryOptions{WaitIndex: 1 << 40, WaitTime: 10 * time.Second})
	if err != nil || m3.LastIndex != r.index {
		t.Fatalf("future index: %v %v", m3, err)
	}

	// The catalog query wakes on any registration.
	_, cm, err := c.Catalog().Services(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan uint64, 1)
	go func() {
		_, m, err := c.Catalog().Services(&api.QueryOptions{WaitIndex: cm.LastIndex, WaitTime: 10 * time.Second})
		if err != nil {
			done <- 0
			return
		}
		done <- m.LastIndex
	}()
	testkit.Eventually(t, 5*time.Second, "the catalog query waiting in the hub", func() bool {
		// len(done): a status change elsewhere (the hub's own check) may have answered it already.
		return len(done) > 0 || goroutines("(*Hub).handleCatalogServices(", "registry.sleep(") > 0
	})
	if err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "third"}); err != nil {
		t.Fatal(err)
	}
	if got := <-done; got <= cm.LastIndex {
		t.Fatalf("catalog query index %d, want > %d", got, cm.LastIndex)
	}
}

func TestIndexNeverGoesBackwards(t *testing.T) {
	h := startHub(t)
	c := consulClient(t, h.URL(), "")
	var last uint64
	check := func(what string) {
		t.Helper()
		resp, err := http.Get(h.URL() + "/v1/agent/services")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		idx, err := strconv.ParseUint(resp.Header.Get("X-Consul-Index"), 10, 64)
		if err != nil || idx < 1 || idx < last {
			t.Fatalf("%s: X-Consul-Index %q after %d", what, resp.Header.Get("X-Consul-Index"), last)
		}
		last = idx
	}
	check("start")
	for i := range 5 {
		id := fmt.Sprint("s", i)
		if err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "n", ID: id}); err != nil {
			t.Fatal(err)
		}
		check("register " + id)
		if err := c.Agent().ServiceDeregister(id); err != nil {
			t.Fatal(err)
		}
		check("deregister " + id)
	}
}

func TestStatusPage(t *testing.T) {
	h := startHub(t)
	c := consulClient(t, h.URL(), "")
	tg := newTarget(t, 200)
	if err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "grading", ID: "grading-7", Port: 6007,
		Check: &api.AgentServiceCheck{HTTP: tg.URL, Interval: "100ms"}}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 3*time.Second, "page shows a passing grading", func() bool {
		resp, err := http.Get(h.URL() + "/")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		page := string(b)
		return resp.StatusCode == 200 && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") &&
			strings.Contains(page, "grading-7") && strings.Contains(page, "http://127.0.0.1:6007") &&
			strings.Contains(page, "HTTP GET "+tg.URL+": 200 OK") && strings.Contains(page, `http-equiv="refresh"`)
	})
}

func TestBadInput(t *testing.T) {
	h := startHub(t, "-token", "s3cret")
	big := `{"Name":"x","Meta":{"k":"` + strings.Repeat("a", 1<<20) + `"}}`
	cases := []struct {
		name, method, path, body, token string
		want                            int
	}{
		{"malformed JSON", "PUT", "/v1/agent/service/register", `{"Name":`, "s3cret", 400},
		{"not an object", "PUT", "/v1/agent/service/register", `[1,2]`, "s3cret", 400},
		{"too big", "PUT", "/v1/agent/service/register", big, "s3cret", 413},
		{"missing Name", "PUT", "/v1/agent/service/register", `{"ID":"x"}`, "s3cret", 400},
		{"bad port", "PUT", "/v1/agent/service/register", `{"Name":"x","Port":70000}`, "s3cret", 400},
		{"bad interval", "PUT", "/v1/agent/service/register", `{"Name":"x","Check":{"HTTP":"http://127.0.0.1:1","Interval":"soon"}}`, "s3cret", 400},
		{"no interval", "PUT", "/v1/agent/service/register", `{"Name":"x","Check":{"HTTP":"http://127.0.0.1:1"}}`, "s3cret", 400},
		{"bad TTL", "PUT", "/v1/agent/service/register", `{"Name":"x","Check":{"TTL":"-5s"}}`, "s3cret", 400},
		{"script check", "PUT", "/v1/agent/service/register", `{"Name":"x","Check":{"Args":["rm"],"Interval":"1s"}}`, "s3cret", 400},
		{"bad check URL", "PUT", "/v1/agent/service/register", `{"Name":"x","Check":{"HTTP":"ftp://x","Interval":"1s"}}`, "s3cret", 400},
		{"bad status", "PUT", "/v1/agent/service/register", `{"Name":"x","Check":{"TTL":"1s","Status":"great"}}`, "s3cret", 400},
		{"bad index", "GET", "/v1/health/service/x?index=abc", "", "", 400},
		{"bad wait", "GET", "/v1/health/service/x?index=1&wait=forever", "", "", 400},
		{"bad catalog wait", "GET", "/v1/catalog/services?wait=-1s", "", "", 400},
		{"unknown route", "GET", "/v1/agent/nothing", "", "", 404},
		{"unknown service", "GET", "/v1/agent/service/ghost", "", "", 404},
		{"deregister unknown", "PUT", "/v1/agent/service/deregister/ghost", "", "s3cret", 404},
		{"update unknown", "PUT", "/v1/agent/check/update/ghost", `{"Status":"passing"}`, "s3cret", 404},
		{"update bad status", "PUT", "/v1/agent/check/update/ghost", `{"Status":"fine"}`, "s3cret", 400},
		{"wrong method", "POST", "/v1/agent/service/register", `{}`, "s3cret", 405},
		{"wrong method on a read", "DELETE", "/v1/agent/services", "", "s3cret", 405},
		{"no token", "PUT", "/v1/agent/service/register", `{"Name":"x"}`, "", 401},
		{"wrong token", "PUT", "/v1/agent/service/register", `{"Name":"x"}`, "nope", 401},
		{"course protocol without token", "POST", "/services", `{}`, "", 401},
		{"course protocol malformed", "POST", "/services", `{"ServiceName":`, "s3cret", 400},
		{"course protocol missing fields", "POST", "/services", `{"ServiceName":"x"}`, "s3cret", 400},
		{"course protocol delete unknown", "DELETE", "/services", `http://127.0.0.1:1`, "s3cret", 404},
		{"good token", "PUT", "/v1/agent/service/register", `{"Name":"x"}`, "s3cret", 200},
		{"reads stay open", "GET", "/v1/agent/services", "", "", 200},
		{"register as text/plain", "PUT", "/v1/agent/service/register", `{"Name":"x"}`, "s3cret", 415},
		{"course protocol as text/plain", "POST", "/services", `{"ServiceName":"x"}`, "s3cret", 415},
		{"TTL update without a Content-Type", "PUT", "/v1/agent/check/update/ghost", `{"Status":"passing"}`, "s3cret", 415},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, h.URL()+tc.path, strings.NewReader(tc.body))
			if tc.token != "" {
				req.Header.Set("X-Consul-Token", tc.token)
			}
			// Bodies are JSON and say so, as consul/api sends them, except where a case is about
			// the media type, and the course protocol's deregistration, whose body is text.
			switch {
			case strings.HasSuffix(tc.name, "as text/plain"):
				req.Header.Set("Content-Type", "text/plain")
			case strings.HasSuffix(tc.name, "without a Content-Type"), tc.path == "/services" && tc.method == "DELETE":
			case tc.body != "":
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, b)
			}
			if tc.want == 405 && resp.Header.Get("Allow") == "" {
				t.Errorf("405 without Allow")
			}
			if tc.want >= 400 {
				var e struct{ Error string }
				if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
					t.Errorf("error body %q is not {\"error\": ...}", b)
				}
			}
		})
	}
	// The bearer form works as well as X-Consul-Token.
	req, _ := http.NewRequest("PUT", h.URL()+"/v1/agent/service/register", strings.NewReader(`{"Name":"y"}`))
	req.Header.Set("Authorization", "Bearer s3cret")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("bearer token: %v %v", resp, err)
	}
	resp.Body.Close()
	// And consul/api's own token path.
	if err := consulClient(t, h.URL(), "s3cret").Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "z"}); err != nil {
		t.Fatalf("consul/api with token: %v", err)
	}
	if err := consulClient(t, h.URL(), "").Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "z"}); !isStatus(err, 401) {
		t.Fatalf("consul/api without token: %v, want 401", err)
	}
}
