package containertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/internal/jaegertest"
	"github.com/gradebook/gradebook/internal/prometheustest"
	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/registry/registrytest"
)

// testImage is the tag the tests build gradebook's image under, so that they never replace a
// gradebook:latest that someone built for use. It is kept afterwards: it is the next run's cache.
const testImage = "gradebook:containertest"

// maxImageBytes is the most the runtime image may weigh: a static binary and a CA bundle.
const maxImageBytes = 40_000_000

// TestDefaultCompose runs docker-compose.yml as a user does, with each compose implementation on
// the machine: the image builds small, non-root and stamped with its commit; the system comes up
// with every service passing in Consul; the portal shows the students and records a grade from a
// form; Consul's UI lists the services; a killed grading shows as the portal's 503 page and comes
// back with the grade kept on its volume; down and up keep the grade; down -v leaves nothing.
func TestDefaultCompose(t *testing.T) {
	requireDocker(t)
	tools := composeTools(t)
	requireImages(t, "golang:1.26-bookworm", "hashicorp/consul:1.14", "jaegertracing/jaeger:2.13.0", "prom/prometheus:v3.16.0")
	for _, tool := range tools {
		t.Run(tool.name, func(t *testing.T) { testDefaultCompose(t, tool) })
	}
}

func testDefaultCompose(t *testing.T, tool composeTool) {
	commit := headCommit(t)
	ports := testkit.FreePorts(t, 4)
	portalPort, consulPort, jaegerPort, prometheusPort := ports[0], ports[1], ports[2], ports[3]
	p := newProject(t, tool, "docker-compose.yml",
		"GRADEBOOK_IMAGE="+testImage,
		"GRADEBOOK_COMMIT="+commit,
		"GRADEBOOK_VERSION=containertest",
		"GRADEBOOK_PORTAL_PORT="+strconv.Itoa(portalPort),
		"GRADEBOOK_CONSUL_PORT="+strconv.Itoa(consulPort),
		"GRADEBOOK_JAEGER_PORT="+strconv.Itoa(jaegerPort),
		"GRADEBOOK_PROMETHEUS_PORT="+strconv.Itoa(prometheusPort),
	)
	portal := fmt.Sprintf("http://127.0.0.1:%d", portalPort)
	consul := fmt.Sprintf("http://127.0.0.1:%d", consulPort)
	web := &http.Client{
		Timeout: 5 * time.Second,
		// The form's answer is a redirect: the test reads it, as the browser would before following.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	// The image.
	start := time.Now()
	p.compose(20*time.Minute, "build")
	t.Logf("figure: image build (%s): %v", tool.name, time.Since(start).Round(100*time.Millisecond))
	checkImage(t, testImage, commit)

	// Up, and every service passing in Consul.
	start = time.Now()
	p.compose(10*time.Minute, "up", "-d", "--build")
	testkit.Until(t, 120*time.Second, func() string { return allPassing(web, consul) })
	t.Logf("figure: up to all passing in Consul (%s): %v", tool.name, time.Since(start).Round(100*time.Millisecond))

	// The portal shows the demo students and records a grade from its form, to a signed-in
	// teacher when it asks for one.
	signInDemo(t, web, portal)
	page := get(t, web, portal+"/students")
	if page.status != http.StatusOK {
		t.Fatalf("GET /students = %d\n%s", page.status, page.body)
	}
	for _, s := range grading.DemoStudents() {
		if name := s.FirstName + " " + s.LastName; !strings.Contains(page.body, name) {
			t.Errorf("the portal's students page does not list %q", name)
		}
	}
	title := "Container check " + strconv.FormatInt(time.Now().UnixNano()%1_000_000, 10)
	addGrade(t, web, portal, title)

	// The page's trace, in Jaeger: the portal's spans and grading's, under one trace ID.
	traceID := fmt.Sprintf("%032x", time.Now().UnixNano())
	req, _ := http.NewRequest(http.MethodGet, portal+"/students/1", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := web.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /students/1 with a traceparent = %d", resp.StatusCode)
	}
	testkit.Until(t, 30*time.Second, func() string {
		spans, found, err := jaegertest.TraceAt(fmt.Sprintf("http://127.0.0.1:%d", jaegerPort), traceID)
		if err != nil || !found {
			return fmt.Sprintf("Jaeger has no trace %s yet (%v)", traceID, err)
		}
		services := map[string]bool{}
		for _, s := range spans {
			services[s.Service] = true
		}
		if !services["portal"] || !services["grading"] {
			return fmt.Sprintf("trace %s has spans of %v; want the portal's and grading's", traceID, services)
		}
		return ""
	})

	// Prometheus found every service through Consul and scrapes each one's HTTP instance.
	testkit.Until(t, 60*time.Second, func() string {
		targets, err := prometheustest.Targets(fmt.Sprintf("http://127.0.0.1:%d", prometheusPort))
		if err != nil {
			return err.Error()
		}
		up := map[string]bool{}
		for _, tg := range targets {
			if tg.Health == "up" {
				up[tg.Labels["service"]] = true
			}
		}
		if !up["log"] || !up["grading"] || !up["portal"] {
			return fmt.Sprintf("Prometheus scrapes %v; want log, grading and portal up", up)
		}
		return ""
	})

	// Consul's UI, as a person opens it.
	if registrytest.HaveChromium(t) {
		shot := registrytest.ConsulUIScreenshot(t, consul, []string{"consul", "log", "grading", "portal"})
		if len(shot) < 10_000 {
			t.Errorf("the screenshot of Consul's UI is only %d bytes", len(shot))
		}
	}

	// Grading killed: the portal says so within 3 s of the command; started again: the grade is
	// still there.
	kill := time.Now()
	p.compose(time.Minute, "kill", "grading")
	killed := time.Now()
	testkit.Until(t, 3*time.Second-killed.Sub(kill), func() string {
		a, err := try(web, portal+"/students/1")
		if err != nil {
			return err.Error()
		}
		if a.status != http.StatusServiceUnavailable || !strings.Contains(strings.ToLower(a.body), "unavailable") {
			return fmt.Sprintf("the portal answers %d with grading killed; want its 503 page", a.status)
		}
		return ""
	})
	t.Logf("figure: kill grading to the portal's 503 page (%s): %v (%v after the command returned)",
		tool.name, time.Since(kill).Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	p.compose(time.Minute, "start", "grading")
	started := time.Now()
	testkit.Until(t, 60*time.Second, func() string { return showsGrade(web, portal, title) })
	t.Logf("figure: start grading to the page with the grade (%s): %v after the command returned", tool.name, time.Since(started).Round(time.Millisecond))

	// Down and up again: the named volume keeps the grade.
	p.compose(3*time.Minute, "down", "--timeout", "10")
	if left := p.resources(); !slices.ContainsFunc(left, func(r string) bool { return strings.HasPrefix(r, "volume ") }) {
		t.Fatalf("down without -v removed the volumes; left: %v", left)
	}
	p.compose(10*time.Minute, "up", "-d")
	testkit.Until(t, 120*time.Second, func() string {
		if why := allPassing(web, consul); why != "" {
			return why
		}
		return showsGrade(web, portal, title)
	})

	// Down -v: nothing of the project is left, not even the volumes no one named.
	volumes := p.volumesInUse()
	p.compose(3*time.Minute, "down", "-v", "--timeout", "10")
	if left := p.resources(); len(left) > 0 {
		t.Errorf("down -v left %v", left)
	}
	for _, v := range volumes {
		if _, err := docker(t, 30*time.Second, "volume", "inspect", v); err == nil {
			t.Errorf("down -v left the volume %s, which a container of the project had mounted", v)
		}
	}
}

// checkImage asserts what the Dockerfile promises of the runtime image.
func checkImage(t *testing.T, image, commit string) {
	t.Helper()
	out, err := docker(t, 30*time.Second, "image", "inspect", image)
	if err != nil {
		t.Fatalf("docker image inspect %s: %v\n%s", image, err, out)
	}
	var inspect []struct {
		Size   int64
		Config struct {
			User   string
			Labels map[string]string
		}
	}
	if err := json.Unmarshal([]byte(out), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("docker image inspect %s: %v\n%s", image, err, out)
	}
	img := inspect[0]
	t.Logf("figure: image size: %.1f MB", float64(img.Size)/1e6)
	if img.Size > maxImageBytes {
		t.Errorf("the image is %d bytes; at most %d", img.Size, maxImageBytes)
	}
	if !regexp.MustCompile(`^[1-9][0-9]*(:[1-9][0-9]*)?$`).MatchString(img.Config.User) {
		t.Errorf("the image runs as user %q; want a numeric user other than root", img.Config.User)
	}
	for _, key := range []string{"title", "description", "source", "version", "revision"} {
		if img.Config.Labels["org.opencontainers.image."+key] == "" {
			t.Errorf("the image has no org.opencontainers.image.%s label", key)
		}
	}
	if got := img.Config.Labels["org.opencontainers.image.revision"]; got != commit {
		t.Errorf("org.opencontainers.image.revision = %q, want %q", got, commit)
	}
	if out, err := docker(t, time.Minute, "run", "--rm", image, "version"); err != nil || !strings.Contains(out, commit) {
		t.Errorf("docker run %s version = %q (%v); want the commit %s", image, out, err, commit)
	}
	if out, err := docker(t, time.Minute, "run", "--rm", "--entrypoint", "/bin/sh", image, "-c", "true"); err == nil {
		t.Errorf("the image has a shell: /bin/sh ran (%q)", out)
	}
}

// allPassing answers "" once Consul lists log, grading (its HTTP and its gRPC registration) and
// the portal with every check passing, and otherwise what is missing.
func allPassing(c *http.Client, consul string) string {
	for _, want := range []struct{ name, tag string }{
		{"log", ""}, {"grading", "http"}, {"grading", "grpc"}, {"portal", ""},
	} {
		u := consul + "/v1/health/service/" + want.name + "?passing=1"
		if want.tag != "" {
			u += "&tag=" + want.tag
		}
		a, err := try(c, u)
		if err != nil {
			return err.Error()
		}
		var entries []json.RawMessage
		if a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &entries) != nil || len(entries) == 0 {
			return fmt.Sprintf("Consul lists no passing %s %s yet (%d %s)", want.name, want.tag, a.status, a.body)
		}
	}
	return ""
}

// addGrade posts the student page's form as the browser does from that page (same origin), and
// checks the post/redirect/get answer shows the grade. A cross-origin post is refused.
func addGrade(t *testing.T, c *http.Client, portal, title string) {
	t.Helper()
	form := url.Values{"title": {title}, "type": {"Quiz"}, "score": {"91"}}.Encode()
	post := func(origin, site string) answer {
		req, err := http.NewRequest(http.MethodPost, portal+"/students/1/grades", strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		req.Header.Set("Sec-Fetch-Site", site)
		a, err := send(c, req)
		if err != nil {
			t.Fatalf("POST /students/1/grades: %v", err)
		}
		return a
	}
	if a := post("http://elsewhere.example", "cross-site"); a.status != http.StatusForbidden {
		t.Errorf("a cross-origin form post = %d; want 403", a.status)
	}
	a := post(portal, "same-origin")
	if a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, "/students/1") {
		t.Fatalf("POST /students/1/grades = %d (Location %q); want 303 to the student's page\n%s", a.status, a.location, a.body)
	}
	if page := get(t, c, portal+a.location); page.status != http.StatusOK || !strings.Contains(page.body, title) {
		t.Fatalf("GET %s = %d; want the page with %q", a.location, page.status, title)
	}
}

// showsGrade answers "" once the first student's page is served and lists the grade.
func showsGrade(c *http.Client, portal, title string) string {
	a, err := try(c, portal+"/students/1")
	if err != nil {
		return err.Error()
	}
	if a.status != http.StatusOK || !strings.Contains(a.body, title) {
		return fmt.Sprintf("the student's page answers %d without %q", a.status, title)
	}
	return ""
}

// headCommit is the commit the tests stamp the image with: the checkout's, when git can say.
func headCommit(t *testing.T) string {
	root, err := testkit.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, err := command(30*time.Second, root, nil, "git", "rev-parse", "HEAD")
	if c := strings.TrimSpace(out); err == nil && regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(c) {
		return c
	}
	return "0000000000000000000000000000000000000000"
}

type answer struct {
	status   int
	location string
	body     string
}

func send(c *http.Client, req *http.Request) (answer, error) {
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return answer{resp.StatusCode, resp.Header.Get("Location"), string(b)}, err
}

func try(c *http.Client, u string) (answer, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return answer{}, err
	}
	return send(c, req)
}

func get(t *testing.T, c *http.Client, u string) answer {
	t.Helper()
	a, err := try(c, u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return a
}
