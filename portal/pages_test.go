package portal

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingclient"
	"github.com/gradebook/gradebook/logging/logclient"
	"github.com/gradebook/gradebook/pkg/discovery"
)

const formType = "application/x-www-form-urlencoded"

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

func TestPages(t *testing.T) {
	g := startGrading(t)
	p := newTestPortal(t, sd.FixedInstancer{g.addr()})
	tests := []struct {
		name, method, path, body string
		header                   []string
		want                     int
		contains                 []string
		location                 string
	}{
		{name: "home", method: "GET", path: "/", want: 303, location: "/students"},
		{name: "list", method: "GET", path: "/students", want: 200, contains: []string{
			`<a href="/students/1">Averill Simen</a>`, `<td class="num average-cell">87.0</td>`, `<svg class="scores"`,
			`<title>Quiz 1: 85</title>`, `action="/students"`}},
		{name: "student", method: "GET", path: "/students/2", want: 200, contains: []string{
			"<h1>Marge Garrard</h1>", `id="average">98.7`, "Week 1 Homework", `<option selected>Quiz</option>`, `name="idempotencyKey" value="`}},
		{name: "unknown student", method: "GET", path: "/students/999", want: 404, contains: []string{"Not found", "/students/999"}},
		{name: "history", method: "GET", path: "/students/2/history", want: 200, contains: []string{
			"<title>History of Marge Garrard · Gradebook</title>", `<a href="/students/2" id="back-to-student">Marge Garrard</a>`,
			`id="no-history">No grade has been corrected or removed.`}},
		{name: "history of unknown student", method: "GET", path: "/students/999/history", want: 404, contains: []string{"Not found", "/students/999/history"}},
		{name: "history, id not a number", method: "GET", path: "/students/abc/history", want: 404, contains: []string{"Not found"}},
		{name: "wrong method on history", method: "POST", path: "/students/1/history", want: 405},
		{name: "student id not a number", method: "GET", path: "/students/abc", want: 404, contains: []string{"Not found"}},
		{name: "unknown page", method: "GET", path: "/nowhere", want: 404, contains: []string{"<!doctype html>", "Not found"}},
		{name: "stylesheet", method: "GET", path: "/static/style.css", want: 200, contains: []string{"--accent"}},
		{name: "icon", method: "GET", path: "/static/favicon.svg", want: 200, contains: []string{"<svg"}},
		{name: "wrong method", method: "DELETE", path: "/students", want: 405},
		{name: "wrong method on grades", method: "GET", path: "/students/1/grades", want: 405},
		{name: "add grade", method: "POST", path: "/students/1/grades", body: form("title", "Quiz 3", "type", "Quiz", "score", "91"),
			want: 303, location: "/students/1?added=grade"},
		{name: "after add grade", method: "GET", path: "/students/1?added=grade", want: 200, contains: []string{
			"Grade recorded.", "<td>Quiz 3</td>", `id="average">88.0`, "average of 4 grades"}},
		{name: "score not a number", method: "POST", path: "/students/1/grades", body: form("title", "Essay", "type", "Test", "score", "ninety"),
			want: 422, contains: []string{`must be a number from 0 to 100`, `value="Essay"`, `<option selected>Test</option>`, `value="ninety"`, `field invalid`}},
		{name: "score too high", method: "POST", path: "/students/1/grades", body: form("title", "Essay", "type", "Test", "score", "150"),
			want: 422, contains: []string{`must be from 0 to 100, not 150`}},
		{name: "score missing, bad type", method: "POST", path: "/students/1/grades", body: form("title", "", "type", "Exam"),
			want: 422, contains: []string{`is required`, `must be one of Test, Homework, Quiz`}},
		{name: "grade for unknown student", method: "POST", path: "/students/999/grades", body: form("title", "T", "type", "Quiz", "score", "5"), want: 404},
		{name: "add student", method: "POST", path: "/students", body: form("firstName", "Ada", "lastName", "Lovelace"),
			want: 303, location: "/students/6?added=student"},
		{name: "new student page", method: "GET", path: "/students/6?added=student", want: 200, contains: []string{
			"Student added.", `id="average">—`, "No grades yet."}},
		{name: "no average in list", method: "GET", path: "/students", want: 200, contains: []string{
			`<td class="num average-cell">—</td>`}},
		{name: "add student invalid", method: "POST", path: "/students", body: form("firstName", "  ", "lastName", "Hopper"),
			want: 422, contains: []string{"is required", `value="Hopper"`, "Averill Simen"}},
		{name: "cross-site form post", method: "POST", path: "/students", body: form("firstName", "Eve", "lastName", "Evil"),
			header: []string{"Sec-Fetch-Site", "cross-site"}, want: 403, contains: []string{"Form refused"}},
		{name: "cross-origin form post", method: "POST", path: "/students/1/grades", body: form("title", "x", "type", "Quiz", "score", "1"),
			header: []string{"Origin", "http://evil.example"}, want: 403},
		{name: "cross-origin API post", method: "POST", path: "/api/v1/students", body: `{"firstName":"Eve","lastName":"Evil"}`,
			header: []string{"Sec-Fetch-Site", "cross-site"}, want: 403, contains: []string{`"error"`}},
		{name: "same-origin form post", method: "POST", path: "/students/2/grades", body: form("title", "Lab", "type", "Test", "score", "99.5"),
			header: []string{"Sec-Fetch-Site", "same-origin"}, want: 303},
		{name: "oversized form", method: "POST", path: "/students", body: "firstName=" + strings.Repeat("a", maxFormBody+10), want: 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct := ""
			if tc.body != "" {
				ct = formType
				if strings.HasPrefix(tc.body, "{") {
					ct = "application/json"
				}
			}
			a := p.do(t, tc.method, tc.path, ct, tc.body, tc.header...)
			if a.status != tc.want {
				t.Fatalf("%s %s = %d; want %d\n%s", tc.method, tc.path, a.status, tc.want, a.body)
			}
			for _, c := range tc.contains {
				if !strings.Contains(a.body, c) {
					t.Errorf("%s %s: body lacks %q\n%s", tc.method, tc.path, c, a.body)
				}
			}
			if tc.location != "" && a.header.Get("Location") != tc.location {
				t.Errorf("Location = %q; want %q", a.header.Get("Location"), tc.location)
			}
			if tc.want == 405 && a.header.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
			if strings.HasPrefix(tc.path, "/students") && tc.want != 303 && tc.want != 405 {
				if ct := a.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
					t.Errorf("Content-Type = %q", ct)
				}
			}
		})
	}
}

func TestPagesEscapeNames(t *testing.T) {
	g := startGrading(t)
	p := newTestPortal(t, sd.FixedInstancer{g.addr()})
	const evil = `<script>alert(1)</script>`
	a := p.do(t, "POST", "/students", formType, form("firstName", evil, "lastName", `"><img src=x onerror=alert(2)>`))
	if a.status != 303 {
		t.Fatalf("add student = %d %s", a.status, a.body)
	}
	for _, path := range []string{"/students", a.header.Get("Location")} {
		body := p.get(t, path).body
		if strings.Contains(body, evil) || strings.Contains(body, "<img src=x") {
			t.Fatalf("%s renders markup from a name:\n%s", path, body)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Fatalf("%s does not show the name as text:\n%s", path, body)
		}
	}
	if csp := p.get(t, "/students").header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
}

func TestFormPostIsRecordedOnceWhenResubmitted(t *testing.T) {
	g := startGrading(t)
	p := newTestPortal(t, sd.FixedInstancer{g.addr()})
	body := form("title", "Quiz 9", "type", "Quiz", "score", "60", "idempotencyKey", "form-key-1")
	for range 2 {
		if a := p.do(t, "POST", "/students/4/grades", formType, body); a.status != 303 {
			t.Fatalf("post = %d %s", a.status, a.body)
		}
	}
	if n := strings.Count(p.get(t, "/students/4").body, "<td>Quiz 9</td>"); n != 1 {
		t.Fatalf("a resubmitted form recorded %d grades; want 1", n)
	}
	// The same form reused for a different grade is refused without writing anything.
	a := p.do(t, "POST", "/students/4/grades", formType, form("title", "Quiz 10", "type", "Quiz", "score", "61", "idempotencyKey", "form-key-1"))
	if a.status != http.StatusConflict || !strings.Contains(a.body, "nothing was saved") || !strings.Contains(a.body, `value="Quiz 10"`) {
		t.Fatalf("reused form = %d\n%s", a.status, a.body)
	}
}

// TestStudentPageAsksGradingOnce: a view of a student's page is one grading call (the student);
// the history, a second call, is on its own page.
func TestStudentPageAsksGradingOnce(t *testing.T) {
	g := startGrading(t)
	p := newTestPortal(t, sd.FixedInstancer{g.addr()})
	for path, want := range map[string]int64{"/students/1": 1, "/students/1/history": 2} {
		before := g.hits.Load()
		if a := p.get(t, path); a.status != http.StatusOK {
			t.Fatalf("GET %s = %d\n%s", path, a.status, a.body)
		}
		if n := g.hits.Load() - before; n != want {
			t.Errorf("GET %s made %d grading calls; want %d", path, n, want)
		}
	}
}

func TestPagesWhenGradingIsUnavailable(t *testing.T) {
	for name, instancer := range map[string]sd.Instancer{
		"none known": sd.FixedInstancer{},
		"all dead":   sd.FixedInstancer{deadAddr(t)},
	} {
		t.Run(name, func(t *testing.T) {
			p := newTestPortalNoWait(t, instancer)
			for _, tc := range []struct{ method, path, body string }{
				{"GET", "/students", ""},
				{"GET", "/students/1", ""},
				{"GET", "/students/1/history", ""},
				{"POST", "/students", form("firstName", "A", "lastName", "B")},
				{"POST", "/students/1/grades", form("title", "T", "type", "Quiz", "score", "1")},
			} {
				a := p.do(t, tc.method, tc.path, formType, tc.body)
				back := map[string]string{"/students": `href="/students"`, "/students/1": `href="/students/1"`, "/students/1/history": `href="/students/1/history"`, "/students/1/grades": `href="/students/1"`}[tc.path]
				if a.status != 503 || !strings.Contains(a.body, "The grading service is unavailable") || !strings.Contains(a.body, back) ||
					!strings.Contains(a.body, "<!doctype html>") || a.header.Get("Retry-After") == "" {
					t.Fatalf("%s %s = %d (Retry-After %q)\n%s", tc.method, tc.path, a.status, a.header.Get("Retry-After"), a.body)
				}
			}
		})
	}
}

func TestStatusPage(t *testing.T) {
	reg := fakeRegistry(t)
	logs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/logs" || r.URL.Query().Get("limit") != "50" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`[{"time":"2026-01-02T10:00:00Z","service":"grading","level":"info","msg":"seeded","students":5},
			{"time":"2026-01-02T10:00:01Z","service":"portal","level":"warn","msg":"<b>careful</b>","request_id":"r1"},
			{"time":"2026-01-02T10:00:02Z","service":"grading","level":"info","msg":"traced","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"},
			{"time":"2026-01-02T10:00:03Z","service":"grading","level":"info","msg":"forged","trace_id":"\"><script>x</script>"},
			{"time":"2026-01-02T10:00:00.5Z","service":"portal","level":"info","msg":"shipped late"}]`))
	}))
	t.Cleanup(logs.Close)
	client := gradingclient.NewHTTPClient()
	t.Cleanup(client.CloseIdleConnections)
	logsEP := logclient.NewReader(sd.FixedInstancer{strings.TrimPrefix(logs.URL, "http://")}, client, log.NewNopLogger())
	t.Cleanup(logsEP.Close)

	t.Run("everything up", func(t *testing.T) {
		p := newTestPortalNoWait(t, sd.FixedInstancer{}, func(d *Deps) { d.Registry, d.Logs = reg, logsEP })
		a := p.get(t, "/status")
		for _, want := range []string{
			"<strong>grading</strong>", "grading-1", "127.0.0.1:6000", `<span class="badge passing">passing</span>`,
			`<span class="badge critical">critical</span>`, "connection refused", "<strong>portal</strong>",
			"seeded", "students=5", "&lt;b&gt;careful&lt;/b&gt;", `class="level-warn"`,
		} {
			if !strings.Contains(a.body, want) {
				t.Errorf("status page lacks %q", want)
			}
		}
		if a.status != 200 || t.Failed() {
			t.Fatalf("status = %d\n%s", a.status, a.body)
		}
		if strings.Index(a.body, "careful") > strings.Index(a.body, "seeded") {
			t.Error("log lines are not newest first")
		}
		// Stored last but half a second older than "careful": it goes by its time.
		if late := strings.Index(a.body, "shipped late"); late < strings.Index(a.body, "careful") || late > strings.Index(a.body, "seeded") {
			t.Error("a line stored out of time order is not shown in time order")
		}
	})
	t.Run("log lines link to their traces", func(t *testing.T) {
		p := newTestPortalNoWait(t, sd.FixedInstancer{}, func(d *Deps) { d.Logs, d.TracingUI = logsEP, "http://jaeger.example:16686/" })
		a := p.get(t, "/status")
		const link = `<a class="trace" href="http://jaeger.example:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736">trace</a>`
		if !strings.Contains(a.body, link) {
			t.Errorf("status page lacks %s\n%s", link, a.body)
		}
		if n := strings.Count(a.body, `class="trace"`); n != 1 {
			t.Errorf("%d trace links, want 1: only a line with a well-formed trace_id gets one", n)
		}
	})
	t.Run("no tracing UI, no links", func(t *testing.T) {
		p := newTestPortalNoWait(t, sd.FixedInstancer{}, func(d *Deps) { d.Logs = logsEP })
		if a := p.get(t, "/status"); strings.Contains(a.body, `class="trace"`) || !strings.Contains(a.body, "traced") {
			t.Errorf("status page without -tracing-ui:\n%s", a.body)
		}
	})
	t.Run("grading instances with different data", func(t *testing.T) {
		groups := func() []discovery.Group {
			return []discovery.Group{
				{ID: "bolt-<b>9e1b</b>", Instances: []string{"127.0.0.1:6002", "127.0.0.1:6004"}, Used: true},
				{ID: "bolt-3f2a", Instances: []string{"127.0.0.1:6000"}},
			}
		}
		p := newTestPortalNoWait(t, sd.FixedInstancer{}, func(d *Deps) { d.Registry, d.GradingGroups = reg, groups })
		a := p.get(t, "/status")
		for _, want := range []string{
			"3 grading instances hold different data; only store bolt-&lt;b&gt;9e1b&lt;/b&gt; (2 instances) is used.",
			"store bolt-&lt;b&gt;9e1b&lt;/b&gt;: 2 instances: 127.0.0.1:6002, 127.0.0.1:6004, <strong>used</strong>",
			"store bolt-3f2a: 1 instance: 127.0.0.1:6000, not used",
			`grading-1<br><span class="empty">store bolt-3f2a</span>`,
		} {
			if !strings.Contains(a.body, want) {
				t.Errorf("status page lacks %q", want)
			}
		}
		if a.status != 200 || t.Failed() {
			t.Fatalf("status = %d\n%s", a.status, a.body)
		}
	})
	t.Run("grading instances that agree", func(t *testing.T) {
		groups := func() []discovery.Group {
			return []discovery.Group{{ID: "bolt-3f2a", Instances: []string{"127.0.0.1:6000"}, Used: true}}
		}
		p := newTestPortalNoWait(t, sd.FixedInstancer{}, func(d *Deps) { d.Registry, d.GradingGroups = reg, groups })
		if a := p.get(t, "/status"); a.status != 200 || strings.Contains(a.body, "different data") {
			t.Fatalf("status = %d\n%s", a.status, a.body)
		}
	})
	t.Run("nothing reachable", func(t *testing.T) {
		dead, err := api.NewClient(&api.Config{Address: deadAddr(t), Transport: &http.Transport{}})
		if err != nil {
			t.Fatal(err)
		}
		deadLogs := logclient.NewReader(sd.FixedInstancer{}, client, log.NewNopLogger())
		t.Cleanup(deadLogs.Close)
		p := newTestPortalNoWait(t, sd.FixedInstancer{}, func(d *Deps) { d.Registry, d.Logs = dead, deadLogs })
		a := p.get(t, "/status")
		if a.status != 200 || !strings.Contains(a.body, "The registry could not be read") || !strings.Contains(a.body, "Recent log lines are not available: the log service is unavailable") {
			t.Fatalf("status = %d\n%s", a.status, a.body)
		}
	})
	t.Run("not configured", func(t *testing.T) {
		p := newTestPortalNoWait(t, sd.FixedInstancer{})
		a := p.get(t, "/status")
		if a.status != 200 || !strings.Contains(a.body, "no registry is configured") || !strings.Contains(a.body, "no log service is configured") {
			t.Fatalf("status = %d\n%s", a.status, a.body)
		}
	})
}

// fakeRegistry answers the consul/api calls a portal makes, as the hub and Consul do: the two
// reads of /status, registration, and blocking health queries for the Instancers.
func fakeRegistry(t *testing.T) *api.Client {
	t.Helper()
	srv := fakeRegistryServer(t)
	transport := &http.Transport{}
	c, err := api.NewClient(&api.Config{Address: strings.TrimPrefix(srv.URL, "http://"), Transport: transport})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(transport.CloseIdleConnections)
	return c
}

func fakeRegistryServer(t testing.TB) *httptest.Server {
	t.Helper()
	entry := func(id, addr string, port int, status, output string) *api.ServiceEntry {
		e := &api.ServiceEntry{
			Node:    &api.Node{Node: "local", Address: "127.0.0.1"},
			Service: &api.AgentService{ID: id, Service: strings.SplitN(id, "-", 2)[0], Address: addr, Port: port},
			Checks:  api.HealthChecks{{Status: status, Output: output}},
		}
		if id == "grading-1" {
			e.Service.Meta = map[string]string{grading.StoreIDMeta: "bolt-3f2a", grading.StoreKindMeta: "bolt"}
		}
		return e
	}
	health := map[string][]*api.ServiceEntry{
		"grading": {entry("grading-2", "127.0.0.1", 6002, api.HealthCritical, "dial tcp: connection refused"),
			entry("grading-1", "127.0.0.1", 6000, api.HealthPassing, "HTTP GET: 200 OK")},
		"portal": {entry("portal-1", "", 5000, api.HealthPassing, "")},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Consul-Index", "7")
		w.Header().Set("X-Consul-LastContact", "0")
		w.Header().Set("X-Consul-KnownLeader", "true")
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/v1/catalog/services":
			json.NewEncoder(w).Encode(map[string][]string{"grading": {}, "portal": {}})
		case strings.HasPrefix(r.URL.Path, "/v1/health/service/"):
			if r.URL.Query().Get("index") == "7" {
				// A blocking query on an unchanged index waits, briefly, as a real one would.
				select {
				case <-r.Context().Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
			json.NewEncoder(w).Encode(health[strings.TrimPrefix(r.URL.Path, "/v1/health/service/")])
		case strings.HasPrefix(r.URL.Path, "/v1/agent/service/"):
			w.Write([]byte("{}"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}
