package containertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/testkit"
)

// clusterFile is the topology of several hosts: three Consul servers, a client agent per host,
// PostgreSQL, three grading replicas on it, two portals and the log service.
const clusterFile = "docker-compose.cluster.yml"

// checkInterval is how often Consul checks each service (the services' -check-interval default).
const checkInterval = time.Second

// cutOffDetected bounds how long Consul takes to mark a service that is cut off the network
// critical: service.FailuresBeforeCritical (2) checks in a row must fail, each one only when its
// timeout (4/5 of the interval) has run out, and Consul starts each check an interval after the
// last one ended. The first starts up to an interval after the cut.
const cutOffDetected = 2 * (checkInterval + checkInterval*4/5)

// TestClusterCompose runs docker-compose.cluster.yml and takes parts of it away while clients
// use it: the Consul leader (a new one is elected within 10 s, and no client request fails), one
// grading replica's network (Consul marks it critical within cutOffDetected, the portals
// stop using it, no client request fails, and it comes back when reconnected), the database (503
// with a JSON error, then recovery by itself, with every acknowledged grade kept), and one portal
// (the other keeps serving). It runs with one compose implementation: the first found, or the one
// GRADEBOOK_COMPOSE names.
func TestClusterCompose(t *testing.T) {
	requireDocker(t)
	tool := composeTools(t)[0]
	requireImages(t, "golang:1.26-bookworm", "hashicorp/consul:1.14", "postgres:15")
	c := startCluster(t, tool)

	t.Run("consul leader killed", c.killLeader)
	t.Run("grading replica cut off the network", c.partitionGrading)
	t.Run("database stopped and started", c.restartDatabase)
	t.Run("one portal killed", c.killPortal)
}

type cluster struct {
	*project
	consul  string   // host-a's client agent, published
	portals []string // portal-1 and portal-2, published
	web     *http.Client
}

func startCluster(t *testing.T, tool composeTool) *cluster {
	ports := testkit.FreePorts(t, 3)
	p := newProject(t, tool, clusterFile,
		"GRADEBOOK_IMAGE="+testImage,
		"GRADEBOOK_COMMIT="+headCommit(t),
		"GRADEBOOK_VERSION=containertest",
		"GRADEBOOK_CONSUL_PORT="+strconv.Itoa(ports[0]),
		"GRADEBOOK_PORTAL_PORT="+strconv.Itoa(ports[1]),
		"GRADEBOOK_PORTAL2_PORT="+strconv.Itoa(ports[2]),
	)
	c := &cluster{
		project: p,
		consul:  fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		portals: []string{fmt.Sprintf("http://127.0.0.1:%d", ports[1]), fmt.Sprintf("http://127.0.0.1:%d", ports[2])},
		web:     &http.Client{Timeout: 5 * time.Second},
	}
	// The image first (the default file's test has usually built it already), so that the figure
	// below is the cluster's start-up alone.
	p.compose(20*time.Minute, "build")
	start := time.Now()
	p.compose(10*time.Minute, "up", "-d")
	testkit.Until(t, 180*time.Second, c.allPassing)
	t.Logf("figure: cluster up to all passing in Consul (%s, 13 containers): %v", tool.name, time.Since(start).Round(100*time.Millisecond))
	signInDemo(t, c.web, c.portals[0])

	// Each service registered with its own host's agent, so its registration is on that node.
	want := map[string]string{
		"log:4000": "host-a", "grading-1:6000": "host-a", "portal-1:5000": "host-a",
		"grading-2:6000": "host-b", "portal-2:5000": "host-b",
		"grading-3:6000": "host-c",
	}
	for _, name := range []string{"log", "grading", "portal"} {
		for _, e := range c.entries(t, name, "") {
			addr := e.Service.Address + ":" + strconv.Itoa(e.Service.Port)
			if node, ok := want[addr]; ok && e.Node.Node != node {
				t.Errorf("%s (%s) is registered on node %s; want its host's agent, %s", name, addr, e.Node.Node, node)
			}
		}
	}
	if peers := c.peers(t); len(peers) != 3 {
		t.Fatalf("Raft has %d peers (%v); want the three servers", len(peers), peers)
	}
	return c
}

// killLeader kills the Consul server that leads: the other two elect a new leader within 10 s,
// and clients of both portals see no failure meanwhile. The server is started again afterwards
// and rejoins.
func (c *cluster) killLeader(t *testing.T) {
	leader := c.leader(t)
	if leader == "" {
		t.Fatal("the cluster has no leader")
	}
	server := c.serviceAt(t, strings.Split(leader, ":")[0], "consul-server-1", "consul-server-2", "consul-server-3")
	t.Logf("the leader is %s (%s)", server, leader)

	// The election is asked of the servers that stay, as well as of host-a's client agent: a
	// client agent whose RPC connection was to the killed server answers 500 until its dial times
	// out (10 s) and it turns to another server, which says nothing about the election.
	var survivors []string
	for _, s := range []string{"consul-server-1", "consul-server-2", "consul-server-3"} {
		if s != server {
			survivors = append(survivors, "http://"+c.containerIP(t, s)+":8500")
		}
	}

	load := startLoad(c.web.Jar, c.portals, false)
	time.Sleep(time.Second)
	kill := time.Now()
	c.compose(time.Minute, "kill", server)
	var elected string
	testkit.Until(t, 10*time.Second-time.Since(kill), func() string {
		var problems []string
		for _, api := range append([]string{c.consul}, survivors...) {
			l, err := c.tryLeaderAt(api)
			switch {
			case err != nil:
				problems = append(problems, err.Error())
			case l == "" || l == leader:
				problems = append(problems, fmt.Sprintf("%s: the leader is still %q", api, l))
			default:
				elected = l
				return ""
			}
		}
		return strings.Join(problems, "; ")
	})
	t.Logf("figure: Consul leader killed to a new leader (%s): %v", elected, time.Since(kill).Round(10*time.Millisecond))
	time.Sleep(3 * time.Second) // clients keep going under the new leader
	load.stopAndCheck(t, true)

	c.compose(time.Minute, "start", server)
	testkit.Until(t, 90*time.Second, func() string {
		if peers, err := c.tryPeers(); err != nil || len(peers) != 3 {
			return fmt.Sprintf("Raft peers %v (%v); want the three servers again", peers, err)
		}
		return c.allPassing()
	})
}

// partitionGrading disconnects grading-2 from the network: host-b's agent can no longer reach
// it, so Consul marks it critical within cutOffDetected; the portals drop it (they log
// so) and no client request fails. Reconnected, it passes again.
func (c *cluster) partitionGrading(t *testing.T) {
	container := c.containerOf(t, "grading-2")
	network := c.name + "_default"

	load := startLoad(c.web.Jar, c.portals, false)
	time.Sleep(time.Second)
	cut := time.Now()
	if out, err := docker(t, time.Minute, "network", "disconnect", network, container); err != nil {
		t.Fatalf("docker network disconnect: %v\n%s", err, out)
	}
	testkit.Until(t, cutOffDetected+2*time.Second, func() string {
		return c.gradingReplica("grading-2", "critical")
	})
	critical := time.Since(cut)
	t.Logf("figure: grading-2 cut off to critical in Consul: %v (check interval %v)", critical.Round(10*time.Millisecond), checkInterval)
	if critical > cutOffDetected+500*time.Millisecond {
		t.Errorf("grading-2 turned critical %v after it was cut off; want within two failed checks, %v (and half a second to see it)", critical, cutOffDetected)
	}
	for _, portal := range []string{"portal-1", "portal-2"} {
		testkit.Until(t, 10*time.Second, func() string {
			logs, _ := c.try(time.Minute, "logs", "--no-color", portal)
			if !strings.Contains(logs, `msg="dependency instance disappeared" instance=grading-2:6000`) {
				return portal + " has not dropped grading-2:6000 yet"
			}
			return ""
		})
	}
	time.Sleep(3 * time.Second) // clients keep going on the two replicas left
	load.stopAndCheck(t, true)

	back := time.Now()
	// The alias is the compose service name, which the agent's check and the portals dial.
	if out, err := docker(t, time.Minute, "network", "connect", "--alias", "grading-2", network, container); err != nil {
		t.Fatalf("docker network connect: %v\n%s", err, out)
	}
	testkit.Until(t, 30*time.Second, func() string { return c.gradingReplica("grading-2", "passing") })
	t.Logf("figure: grading-2 reconnected to passing in Consul: %v", time.Since(back).Round(10*time.Millisecond))
}

// restartDatabase stops PostgreSQL while a client records grades through a portal, each with an
// Idempotency-Key and retried until acknowledged: the portal answers 503 with a JSON error while
// the database is down, recovers by itself once it is back, and every acknowledged grade is
// stored exactly once.
func (c *cluster) restartDatabase(t *testing.T) {
	load := startLoad(c.web.Jar, c.portals[:1], true)
	time.Sleep(2 * time.Second)

	stop := time.Now()
	c.compose(2*time.Minute, "stop", "postgres")
	var outage answer
	testkit.Until(t, 30*time.Second, func() string {
		a, err := try(c.web, c.portals[0]+"/api/v1/students/1")
		if err != nil {
			return err.Error()
		}
		if a.status != http.StatusServiceUnavailable {
			return fmt.Sprintf("GET /api/v1/students/1 = %d with the database stopped; want 503", a.status)
		}
		outage = a
		return ""
	})
	t.Logf("figure: database stopped to the portal's 503: %v", time.Since(stop).Round(10*time.Millisecond))
	var body struct{ Error string }
	if err := json.Unmarshal([]byte(outage.body), &body); err != nil || body.Error == "" {
		t.Errorf("the 503 body is %q; want a JSON error", outage.body)
	}
	if strings.Contains(outage.body, "gradebook:") || strings.Contains(outage.body, "postgres://") {
		t.Errorf("the 503 body shows the database's address: %q", outage.body)
	}

	time.Sleep(2 * time.Second)
	started := time.Now()
	c.compose(2*time.Minute, "start", "postgres")
	testkit.Until(t, 90*time.Second, func() string {
		a, err := try(c.web, c.portals[0]+"/api/v1/students/1")
		if err != nil {
			return err.Error()
		}
		if a.status != http.StatusOK {
			return fmt.Sprintf("GET /api/v1/students/1 = %d after the database started", a.status)
		}
		return ""
	})
	t.Logf("figure: database started to the portal's 200: %v", time.Since(started).Round(10*time.Millisecond))
	time.Sleep(2 * time.Second)
	acked := load.stopAndCheck(t, false)

	// Every acknowledged grade is there, once.
	stored := map[string]int{}
	for id := 1; id <= 5; id++ {
		a := get(t, c.web, c.portals[1]+"/api/v1/students/"+strconv.Itoa(id))
		var s struct{ Grades []struct{ Title string } }
		if a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &s) != nil {
			t.Fatalf("GET /api/v1/students/%d = %d %s", id, a.status, a.body)
		}
		for _, g := range s.Grades {
			stored[g.Title]++
		}
	}
	lost := 0
	for _, title := range acked {
		if n := stored[title]; n != 1 {
			lost++
			t.Errorf("the acknowledged grade %q is stored %d times; want once", title, n)
		}
	}
	t.Logf("figure: database restart: %d grades acknowledged, %d lost or repeated", len(acked), lost)
	if len(acked) == 0 {
		t.Error("no grade was acknowledged")
	}
}

// killPortal kills portal-1: portal-2 keeps serving without a failure, and Consul marks portal-1
// critical, within cutOffDetected (its container's address is gone with it, so a check may wait
// out its timeout rather than be refused).
func (c *cluster) killPortal(t *testing.T) {
	load := startLoad(c.web.Jar, c.portals[1:], false)
	time.Sleep(time.Second)
	c.compose(time.Minute, "kill", "portal-1")
	testkit.Until(t, cutOffDetected+2*time.Second, func() string {
		es, err := c.tryEntries("portal", "")
		if err != nil {
			return err.Error()
		}
		for _, e := range es {
			if e.Service.Address == "portal-1" && e.status() == "critical" {
				return ""
			}
		}
		return "Consul does not list portal-1 as critical yet"
	})
	if _, err := try(c.web, c.portals[0]+"/health"); err == nil {
		t.Error("portal-1 still answers after it was killed")
	}
	time.Sleep(3 * time.Second)
	load.stopAndCheck(t, true)
}

// load is a bounded client of the portals: two readers of the students' API, and, when it
// writes, one writer that records grades through /api/v1 with an Idempotency-Key, retrying each
// until acknowledged. It stops by itself after two minutes.
type load struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	ok, fail int
	failures []string
	acked    []string // titles of acknowledged grades
}

func startLoad(jar http.CookieJar, portals []string, write bool) *load {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	l := &load{cancel: cancel}
	// Longer than the portal's own budget for a call (8 s), so that a slow answer is the portal's
	// to give, not a timeout of this client's.
	c := &http.Client{Timeout: 15 * time.Second, Jar: jar}
	for i := range 2 {
		l.wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				portal := portals[(i+n)%len(portals)]
				u := portal + "/api/v1/students/" + strconv.Itoa(1+(i+n)%5)
				a, err := try(c, u)
				l.record(ctx, err, a, http.StatusOK, "GET "+u)
				sleep(ctx, 20*time.Millisecond)
			}
		})
	}
	if write {
		l.wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				title := fmt.Sprintf("Cluster %d-%d", time.Now().Unix(), n)
				for ctx.Err() == nil {
					if postGrade(ctx, c, portals[n%len(portals)], 1+n%5, title) {
						l.mu.Lock()
						l.acked = append(l.acked, title)
						l.mu.Unlock()
						break
					}
					sleep(ctx, 100*time.Millisecond)
				}
				sleep(ctx, 50*time.Millisecond)
			}
		})
	}
	return l
}

// record counts one answer; one cut short by the load's own stop is not counted.
func (l *load) record(ctx context.Context, err error, a answer, want int, what string) {
	if ctx.Err() != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err != nil:
		l.fail++
		l.failures = append(l.failures, fmt.Sprintf("%s: %v", what, err))
	case a.status != want:
		l.fail++
		l.failures = append(l.failures, fmt.Sprintf("%s: %d %s", what, a.status, a.body))
	default:
		l.ok++
	}
}

// stopAndCheck stops the load and logs its figures; with noFailures it fails the test on any
// failed request. It returns the titles of the acknowledged grades.
func (l *load) stopAndCheck(t *testing.T, noFailures bool) []string {
	t.Helper()
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Logf("figure: client requests: %d answered, %d failed; grades acknowledged: %d", l.ok, l.fail, len(l.acked))
	if l.ok == 0 {
		t.Error("no client request was answered")
	}
	if noFailures && l.fail > 0 {
		t.Errorf("%d client requests failed; want 0. First: %s", l.fail, strings.Join(l.failures[:min(5, len(l.failures))], "\n"))
	}
	return l.acked
}

// postGrade records one grade through the gateway and reports whether it was acknowledged.
func postGrade(ctx context.Context, c *http.Client, portal string, student int, title string) bool {
	body := fmt.Sprintf(`{"title":%q,"type":"Quiz","score":77}`, title)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		portal+"/api/v1/students/"+strconv.Itoa(student)+"/grades", strings.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", title)
	a, err := send(c, req)
	return err == nil && a.status == http.StatusCreated
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// entry is the part of a Consul health entry the tests read.
type entry struct {
	Node    struct{ Node string }
	Service struct {
		ID, Address string
		Port        int
	}
	Checks []struct{ Status string }
}

// status is the entry's worst check status, as Consul ranks them.
func (e entry) status() string {
	worst := "passing"
	for _, ch := range e.Checks {
		if ch.Status == "critical" || ch.Status == "warning" && worst == "passing" {
			worst = ch.Status
		}
	}
	return worst
}

func (c *cluster) tryEntries(name, tag string) ([]entry, error) {
	u := c.consul + "/v1/health/service/" + name
	if tag != "" {
		u += "?tag=" + tag
	}
	a, err := try(c.web, u)
	if err != nil {
		return nil, err
	}
	var es []entry
	if a.status != http.StatusOK {
		return nil, fmt.Errorf("GET %s = %d %s", u, a.status, a.body)
	}
	return es, json.Unmarshal([]byte(a.body), &es)
}

func (c *cluster) entries(t *testing.T, name, tag string) []entry {
	t.Helper()
	es, err := c.tryEntries(name, tag)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// allPassing answers "" once Consul lists every instance of the cluster passing: the log service,
// three grading replicas (HTTP and gRPC) and two portals.
func (c *cluster) allPassing() string {
	for _, want := range []struct {
		name, tag string
		n         int
	}{{"log", "", 1}, {"grading", "http", 3}, {"grading", "grpc", 3}, {"portal", "", 2}} {
		es, err := c.tryEntries(want.name, want.tag)
		if err != nil {
			return err.Error()
		}
		passing := 0
		for _, e := range es {
			if e.status() == "passing" {
				passing++
			}
		}
		if passing != want.n {
			return fmt.Sprintf("Consul lists %d passing %s %s instances; want %d", passing, want.name, want.tag, want.n)
		}
	}
	return ""
}

// gradingReplica answers "" once both registrations (HTTP and gRPC) of the replica have status.
func (c *cluster) gradingReplica(replica, status string) string {
	es, err := c.tryEntries("grading", "")
	if err != nil {
		return err.Error()
	}
	var got []string
	for _, e := range es {
		if e.Service.Address == replica {
			got = append(got, e.status())
		}
	}
	if len(got) != 2 || slices.ContainsFunc(got, func(s string) bool { return s != status }) {
		return fmt.Sprintf("%s's registrations are %v; want both %s", replica, got, status)
	}
	return ""
}

func (c *cluster) tryLeader() (string, error) { return c.tryLeaderAt(c.consul) }

// tryLeaderAt asks the Consul agent whose HTTP API is at api which server leads.
func (c *cluster) tryLeaderAt(api string) (string, error) {
	a, err := try(c.web, api+"/v1/status/leader")
	if err != nil {
		return "", err
	}
	var l string
	if a.status != http.StatusOK {
		return "", fmt.Errorf("GET %s/v1/status/leader = %d %s", api, a.status, a.body)
	}
	return l, json.Unmarshal([]byte(a.body), &l)
}

func (c *cluster) leader(t *testing.T) string {
	t.Helper()
	l, err := c.tryLeader()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (c *cluster) tryPeers() ([]string, error) {
	a, err := try(c.web, c.consul+"/v1/status/peers")
	if err != nil {
		return nil, err
	}
	var peers []string
	if a.status != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/status/peers = %d %s", a.status, a.body)
	}
	return peers, json.Unmarshal([]byte(a.body), &peers)
}

func (c *cluster) peers(t *testing.T) []string {
	t.Helper()
	p, err := c.tryPeers()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// containerOf is the ID of the service's container.
func (c *cluster) containerOf(t *testing.T, service string) string {
	t.Helper()
	id := strings.TrimSpace(c.compose(time.Minute, "ps", "-q", service))
	if id == "" || strings.ContainsAny(id, " \n") {
		t.Fatalf("compose ps -q %s = %q; want one container", service, id)
	}
	return id
}

// serviceAt is the one of services whose container has the address ip.
// containerIP is the address of service's container on the cluster's network, which this
// machine reaches directly (a bridge network).
func (c *cluster) containerIP(t *testing.T, service string) string {
	t.Helper()
	ips := c.containerIPs(t, service)
	if len(ips) == 0 {
		t.Fatalf("%s has no address", service)
	}
	return ips[0]
}

// containerIPs are the addresses of service's container, one per network.
func (c *cluster) containerIPs(t *testing.T, service string) []string {
	t.Helper()
	out, err := docker(t, 30*time.Second, "inspect", "--format",
		"{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", c.containerOf(t, service))
	if err != nil {
		t.Fatalf("docker inspect: %v\n%s", err, out)
	}
	return strings.Fields(out)
}

func (c *cluster) serviceAt(t *testing.T, ip string, services ...string) string {
	t.Helper()
	for _, s := range services {
		if slices.Contains(c.containerIPs(t, s), ip) {
			return s
		}
	}
	t.Fatalf("no container of %v has the address %s", services, ip)
	return ""
}
