package portal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/registry/registrytest"
)

// TestSlowClientFlood is the slow-client flood, measured: the real portal, as its own process
// registered with the real hub, is sent 5,000 connections that each announce a 500 KB form post
// and then send its body a byte a second. While they are open the portal answers /health within
// a second, serves its pages and /metrics, and stays under 200 MB; then the read deadline closes
// every one of them. It prints what it measured as "figure:" lines.
//
// Without the read deadline the connections stayed open for as long as their clients liked, and
// 20,000 of them took the portal to its open-file limit, with 624 MB of memory, in 7.4 s.
func TestSlowClientFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("TestSlowClientFlood opens 5,000 connections for about 20 s; skipped under -short")
	}
	const (
		flood       = 5000
		readTimeout = 15 * time.Second
		healthBound = time.Second
		rssBound    = 200 << 20
	)
	hub := registrytest.StartHubProcess(t)
	portal := startPortalProcess(t, "-registry", "http://"+hub.Addr, "-read-timeout", readTimeout.String())
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	testkit.Eventually(t, 20*time.Second, "the portal's /health passing", func() bool {
		code, _, _ := timedGet(client, "http://"+portal.addr+"/health")
		return code == http.StatusOK
	})
	// The hub's view of the portal, through its fresh-dial health check.
	hubClient := registrytest.Hub(hub.Addr).Client(t)
	host, port, _ := net.SplitHostPort(portal.addr)
	hubSees := func() string {
		if hc := registrytest.ServiceCheck(t, hubClient, "portal", "portal-"+host+"-"+port); hc != nil {
			return hc.Status
		}
		return "nothing (not registered)"
	}
	testkit.Until(t, 20*time.Second, func() string {
		if st := hubSees(); st != "passing" {
			return "the hub sees the portal " + st
		}
		return ""
	})
	rssBefore := rssOf(t, portal.pid)

	// The portal's memory, sampled until the test ends.
	var rssPeak atomic.Int64
	rssPeak.Store(rssBefore)
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
			if rss, err := readRSS(portal.pid); err == nil && rss > rssPeak.Load() {
				rssPeak.Store(rss)
			}
		}
	}()
	defer func() {
		close(stopSampling)
		<-sampled
	}()

	// The flood: each connection sends its headers, then waits; one goroutine trickles a byte to
	// each every second, and one reader per connection notes when the portal closes it.
	var (
		closed    atomic.Int64
		mu        sync.Mutex
		closedAt  []time.Duration // per connection, from its headers to its end
		conns     []net.Conn
		readers   sync.WaitGroup
		unanswerd atomic.Int64
	)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
		readers.Wait()
	}()
	head := fmt.Sprintf("POST /students HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 500000\r\n\r\nfirstName=", portal.addr)
	floodBegin := time.Now()
	for i := range flood {
		c, err := net.DialTimeout("tcp", portal.addr, 5*time.Second)
		if err != nil {
			t.Fatalf("connection %d of the flood: %v", i+1, err)
		}
		conns = append(conns, c)
		sent := time.Now()
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatalf("connection %d of the flood: send the headers: %v", i+1, err)
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			_ = c.SetReadDeadline(sent.Add(readTimeout + 30*time.Second))
			br := bufio.NewReader(c)
			if _, err := http.ReadResponse(br, nil); err != nil {
				unanswerd.Add(1)
			}
			_, err := io.Copy(io.Discard, br)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return // still open: the test fails below
			}
			mu.Lock()
			closedAt = append(closedAt, time.Since(sent))
			mu.Unlock()
			closed.Add(1)
		}()
	}
	opened := time.Since(floodBegin)
	stopTrickle := make(chan struct{})
	trickled := make(chan struct{})
	go func() {
		defer close(trickled)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stopTrickle:
				return
			case <-tick.C:
			}
			for _, c := range conns {
				_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
				_, _ = c.Write([]byte{'x'}) // fails once the portal has closed it
			}
		}
	}()
	defer func() {
		close(stopTrickle)
		<-trickled
	}()

	// While the flood is open: what a teacher and the registry would notice.
	var healthTimes []time.Duration
	var pageCode, metricsCode int
	var pageTime, metricsTime time.Duration
	for range 10 {
		code, took, err := timedGet(client, "http://"+portal.addr+"/health")
		if code != http.StatusOK {
			t.Errorf("GET /health under the flood: %d %v", code, err)
		}
		healthTimes = append(healthTimes, took)
	}
	pageCode, pageTime, _ = timedGet(client, "http://"+portal.addr+"/status")
	studentsCode, studentsTime, _ := timedGet(client, "http://"+portal.addr+"/students")
	metricsCode, metricsTime, _ = timedGet(client, "http://"+portal.addr+"/metrics")
	// One check interval (1 s) and a little: the hub has checked the portal under the flood.
	hubSaw := hubSees()
	testkit.Until(t, 3*time.Second, func() string {
		if hubSaw = hubSees(); hubSaw != "passing" {
			return "the hub sees the portal " + hubSaw + " under the flood"
		}
		return ""
	})
	openDuring := flood - int(closed.Load())
	rssDuring := rssPeak.Load()

	t.Logf("figure: %d slow connections opened in %v; %d still open after the probes", flood, opened.Round(time.Millisecond), openDuring)
	t.Logf("figure: GET /health under the flood: p50 %v, max %v (%d probes)",
		testkit.Percentile(healthTimes, 50).Round(time.Microsecond), testkit.Percentile(healthTimes, 100).Round(time.Microsecond), len(healthTimes))
	t.Logf("figure: GET /status %d in %v, GET /students %d in %v, GET /metrics %d in %v; the hub sees the portal %s",
		pageCode, pageTime.Round(time.Microsecond), studentsCode, studentsTime.Round(time.Microsecond), metricsCode, metricsTime.Round(time.Microsecond), hubSaw)
	if openDuring < flood*9/10 {
		t.Fatalf("only %d of %d slow connections were still open when the probes ended: they measured too little of the flood", openDuring, flood)
	}
	if worst := testkit.Percentile(healthTimes, 100); worst > healthBound {
		t.Errorf("GET /health took up to %v under the flood, want within %v", worst, healthBound)
	}
	if pageCode != http.StatusOK || metricsCode != http.StatusOK {
		t.Errorf("under the flood GET /status = %d and GET /metrics = %d, want both served", pageCode, metricsCode)
	}
	// Without a grading instance the students page is the clear 503 page: served, all the same.
	if studentsCode != http.StatusOK && studentsCode != http.StatusServiceUnavailable {
		t.Errorf("under the flood GET /students = %d, want the page (200, or 503 without grading)", studentsCode)
	}

	// Then the read deadline closes every slow connection.
	testkit.Until(t, readTimeout+30*time.Second, func() string {
		if n := closed.Load(); n < flood {
			return fmt.Sprintf("%d of %d slow connections closed", n, flood)
		}
		return ""
	})
	mu.Lock()
	ends := slices.Clone(closedAt)
	mu.Unlock()
	t.Logf("figure: every slow connection closed by the portal, %v after its headers at the median, %v at the latest (-read-timeout %v); %d without an answer",
		testkit.Percentile(ends, 50).Round(time.Millisecond), testkit.Percentile(ends, 100).Round(time.Millisecond), readTimeout, unanswerd.Load())
	if early := testkit.Percentile(ends, 1); early < readTimeout-time.Second {
		t.Errorf("a slow connection closed %v after its headers, before the %v read deadline: something else cut it off", early, readTimeout)
	}
	peak := rssPeak.Load()
	t.Logf("figure: portal RSS %.1f MB before the flood, peak %.1f MB (%.1f MB by the end of the probes); bound %d MB",
		mb(rssBefore), mb(peak), mb(rssDuring), rssBound>>20)
	if peak > rssBound {
		t.Errorf("the portal's RSS reached %.1f MB under the flood, want under %d MB", mb(peak), rssBound>>20)
	}
	code, _, err := timedGet(client, "http://"+portal.addr+"/health")
	if code != http.StatusOK {
		t.Errorf("GET /health after the flood: %d %v", code, err)
	}
}

// portalProcess is cmd/teacherportalservice running as its own OS process.
type portalProcess struct {
	addr string
	pid  int
}

// startPortalProcess builds and starts the portal on a port of 127.0.0.1 it picks, with args
// added, until the test ends (SIGTERM, then SIGKILL after 10 s).
func startPortalProcess(t *testing.T, args ...string) portalProcess {
	t.Helper()
	bin := testkit.BuildCommand(t, "github.com/gradebook/gradebook/cmd/teacherportalservice")
	stderr := &testkit.Buffer{}
	cmd := exec.Command(bin, append([]string{"-listen", "127.0.0.1:0", "-data", t.TempDir(), "-log-level", "info"}, args...)...)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	proc, err := testkit.StartProcess(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if proc.Stop(10 * time.Second) {
			t.Errorf("the portal did not stop within 10s of SIGTERM; it was killed")
		}
		if t.Failed() {
			t.Logf("the portal's log ends:\n%s", tail(stderr.String(), 40))
		}
	})
	return portalProcess{addr: testkit.ServingAddr(t, stderr, 20*time.Second), pid: proc.Pid()}
}

// timedGet GETs url and answers its status (0 when it failed) and how long it took.
func timedGet(c *http.Client, url string) (int, time.Duration, error) {
	begin := time.Now()
	resp, err := c.Get(url)
	if err != nil {
		return 0, time.Since(begin), err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(begin), err
}

// readRSS reads a process's resident set size, in bytes, from /proc.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS line")
}

func rssOf(t *testing.T, pid int) int64 {
	t.Helper()
	rss, err := readRSS(pid)
	if err != nil {
		t.Skipf("cannot read the portal's memory from /proc here: %v", err)
	}
	return rss
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}
