package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/jaeger"
	"github.com/gradebook/gradebook/internal/prometheus"
	"github.com/gradebook/gradebook/internal/testkit"
)

// system is a running "gradebook up": the real launcher starting the four services as real
// processes, on ports moved by a random offset so that it runs beside a developer's copy.
type system struct {
	t        testing.TB
	cmd      *exec.Cmd
	offset   int
	mu       sync.Mutex
	out      strings.Builder
	upCh     chan struct{}
	exitedCh chan struct{}
	exitErr  error
}

func (s *system) url(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port+s.offset) }
func (s *system) registry() string    { return s.url(3000) }
func (s *system) portal() string      { return s.url(5000) }
func (s *system) grading() string     { return s.gradingInstance(1) }
func (s *system) logs() string        { return s.url(4000) }

// gradingInstance is the HTTP URL of grading instance k, counting from 1.
func (s *system) gradingInstance(k int) string { return s.url(6000 + 2*(k-1)) }

func (s *system) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// buildGradebook builds this command into a temp dir of the test.
func buildGradebook(t testing.TB) string {
	t.Helper()
	return testkit.BuildCommand(t, "github.com/gradebook/gradebook/cmd/gradebook")
}

// maxGradingInstances is how many grading instances a test's system has room for.
const maxGradingInstances = 4

// freeOffset finds a port offset at which all of gradebook's ports are free, with room for
// maxGradingInstances grading instances, and Jaeger's and Prometheus's too, for a test that runs
// up -tracing or up -monitoring.
func freeOffset(t testing.TB) int {
	t.Helper()
	ports := []int{3000, 4000, 5000, prometheus.DefaultPort}
	for p := 6000; p < 6000+2*maxGradingInstances; p++ {
		ports = append(ports, p)
	}
	for _, a := range jaeger.DefaultAddrs("127.0.0.1").Listens() {
		_, p, _ := net.SplitHostPort(a)
		n, _ := strconv.Atoi(p)
		ports = append(ports, n)
	}
	for range 50 {
		// At most 20000+27899: Jaeger's UI port, 16686, moved by it stays under 65536.
		off := 20000 + rand.IntN(28)*1000 + rand.IntN(900)
		ok := true
		for _, p := range ports {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+off))
			if err != nil {
				ok = false
				break
			}
			ln.Close()
		}
		if ok {
			return off
		}
	}
	t.Fatal("no free port offset found")
	return 0
}

func startSystem(t *testing.T, bin string, extra ...string) *system {
	t.Helper()
	return startSystemWithEnv(t, bin, nil, extra...)
}

// startSystemWithEnv is startSystem with env added to up's environment.
func startSystemWithEnv(t testing.TB, bin string, env []string, extra ...string) *system {
	t.Helper()
	s := &system{t: t, offset: freeOffset(t), upCh: make(chan struct{}), exitedCh: make(chan struct{})}
	args := append([]string{"up", "-port-offset", strconv.Itoa(s.offset), "-data", t.TempDir(), "-check-interval", "200ms"}, extra...)
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = append(append(os.Environ(), "GRADEBOOK_LOG_LEVEL=info"), env...)
	pr, pw := io.Pipe()
	s.cmd.Stdout, s.cmd.Stderr = pw, pw
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		var once sync.Once
		for sc.Scan() {
			s.mu.Lock()
			s.out.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			// The announcement's last line: the tests read the whole list of addresses above it.
			if strings.HasPrefix(sc.Text(), "Press Ctrl-C to stop") {
				once.Do(func() { close(s.upCh) })
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		s.exitErr = s.cmd.Wait()
		pw.Close()
		close(s.exitedCh)
	}()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("gradebook up output:\n%s", s.output())
		}
	})
	select {
	case <-s.upCh:
	case <-s.exitedCh:
		t.Fatalf("gradebook up exited before it was up: %v\n%s", s.exitErr, s.output())
	case <-time.After(90 * time.Second):
		t.Fatalf("gradebook up did not come up in 90s\n%s", s.output())
	}
	return s
}

// stop stops up as Ctrl-C would, and waits until it has exited (killing it after 30 s).
func (s *system) stop() {
	select {
	case <-s.exitedCh:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exitedCh:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exitedCh
		}
	}
}

// pid finds the process ID up printed for a service: the newest, if it was restarted.
func (s *system) pid(name string) int {
	re := regexp.MustCompile(`(?:started ` + name + `\s+pid|restarted ` + name + `, pid) (\d+)`)
	ms := re.FindAllStringSubmatch(s.output(), -1)
	if len(ms) == 0 {
		s.t.Fatalf("no pid printed for %s", name)
	}
	n, _ := strconv.Atoi(ms[len(ms)-1][1])
	return n
}

var client = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

type answer struct {
	status int
	header http.Header
	body   string
}

func do(t testing.TB, method, u, contentType, body string, hdr ...string) answer {
	t.Helper()
	a, err := try(method, u, contentType, body, hdr...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	return a
}

// try is do for a service that may be down: it returns the error instead of failing.
func try(method, u, contentType, body string, hdr ...string) (answer, error) {
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}, err
}

// eventually polls f until it returns "" or the deadline passes, then fails with f's last reason.
func eventually(t *testing.T, within time.Duration, f func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	var why string
	for time.Now().Before(deadline) {
		if why = f(); why == "" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("after %v: %s", within, why)
}

// registrations is how many registrations one instance of a service makes: grading registers its
// HTTP and its gRPC endpoint under one name, tagged http and grpc.
func registrations(name string) int {
	if name == "grading" {
		return 2
	}
	return 1
}

func passing(t *testing.T, registry, name string) int {
	t.Helper()
	a := do(t, http.MethodGet, registry+"/v1/health/service/"+name+"?passing=1", "", "")
	var entries []json.RawMessage
	if a.status != 200 || json.Unmarshal([]byte(a.body), &entries) != nil {
		return -1
	}
	return len(entries)
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole system")
	}
	bin := buildGradebook(t)
	s := startSystem(t, bin, "-restart")

	t.Run("all four services registered and passing", func(t *testing.T) {
		for _, name := range []string{"registry", "log", "grading", "portal"} {
			if n := passing(t, s.registry(), name); n != registrations(name) {
				t.Errorf("%s: %d passing instances, want %d", name, n, registrations(name))
			}
		}
		page := do(t, http.MethodGet, s.registry()+"/", "", "")
		for _, name := range []string{"registry", "log", "grading", "portal"} {
			if page.status != 200 || !strings.Contains(page.body, name) {
				t.Errorf("registry page (%d) does not show %s", page.status, name)
			}
		}
	})

	t.Run("portal lists the five demo students", func(t *testing.T) {
		root := do(t, http.MethodGet, s.portal()+"/", "", "")
		if root.status != http.StatusSeeOther || root.header.Get("Location") != "/students" {
			t.Errorf("GET / = %d to %q, want 303 to /students", root.status, root.header.Get("Location"))
		}
		page := do(t, http.MethodGet, s.portal()+"/students", "", "")
		if page.status != 200 {
			t.Fatalf("GET /students = %d", page.status)
		}
		for _, name := range []string{"Averill Simen", "Marge Garrard", "Sydnie Barber", "Louie Easton", "Kylee Attwood"} {
			if !strings.Contains(page.body, name) {
				t.Errorf("/students does not list %s", name)
			}
		}
	})

	var average float64
	t.Run("a grade posted through the form appears with the new average", func(t *testing.T) {
		form := url.Values{"title": {"Final Exam"}, "type": {"Test"}, "score": {"61"}}
		a := do(t, http.MethodPost, s.portal()+"/students/2/grades", "application/x-www-form-urlencoded", form.Encode(),
			"X-Request-ID", "e2e-form-post")
		if a.status != http.StatusSeeOther {
			t.Fatalf("form post = %d, want 303: %s", a.status, a.body)
		}
		page := do(t, http.MethodGet, s.portal()+a.header.Get("Location"), "", "")
		if page.status != 200 || !strings.Contains(page.body, "Final Exam") {
			t.Fatalf("student page (%d) does not show the new grade", page.status)
		}
		st := do(t, http.MethodGet, s.grading()+"/students/2", "", "")
		var student struct {
			Grades  []struct{ Score float64 }
			Average float64
		}
		if err := json.Unmarshal([]byte(st.body), &student); err != nil {
			t.Fatal(err)
		}
		sum := 0.0
		for _, g := range student.Grades {
			sum += g.Score
		}
		average = sum / float64(len(student.Grades))
		if fmt.Sprintf("%.1f", student.Average) != fmt.Sprintf("%.1f", average) {
			t.Errorf("average %v, want %v", student.Average, average)
		}
		if !strings.Contains(page.body, fmt.Sprintf("%.1f", average)) {
			t.Errorf("student page does not show the new average %.1f", average)
		}
	})

	t.Run("status page shows every service passing", func(t *testing.T) {
		page := do(t, http.MethodGet, s.portal()+"/status", "", "")
		if page.status != 200 {
			t.Fatalf("GET /status = %d", page.status)
		}
		for _, name := range []string{"registry", "log", "grading", "portal"} {
			if !strings.Contains(page.body, name) {
				t.Errorf("/status does not show %s", name)
			}
		}
		// The badges, not the word: recent log lines on the page may well say "from=critical".
		if strings.Contains(page.body, `class="badge critical"`) || strings.Contains(page.body, `class="badge warning"`) {
			t.Errorf("/status shows a check that is not passing")
		}
	})

	t.Run("logs from portal and grading arrive with the request ID", func(t *testing.T) {
		eventually(t, 10*time.Second, func() string {
			for _, svc := range []string{"portal", "grading"} {
				a := do(t, http.MethodGet, s.logs()+"/v1/logs?service="+svc+"&limit=1000", "", "")
				if !strings.Contains(a.body, "e2e-form-post") {
					return svc + "'s log entries do not carry request ID e2e-form-post yet"
				}
			}
			return ""
		})
	})

	t.Run("grading killed: portal answers 503, then recovers by itself", func(t *testing.T) {
		pid := s.pid("grading")
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, func() string {
			page := do(t, http.MethodGet, s.portal()+"/students", "", "")
			api := do(t, http.MethodGet, s.portal()+"/api/v1/students", "", "")
			if page.status != 503 || !strings.Contains(strings.ToLower(page.body), "unavailable") {
				return fmt.Sprintf("page answered %d", page.status)
			}
			var e struct{ Error string }
			if api.status != 503 || json.Unmarshal([]byte(api.body), &e) != nil || e.Error == "" {
				return fmt.Sprintf("api answered %d %q", api.status, api.body)
			}
			return ""
		})
		// up -restart brings grading back; the portal must find it again on its own.
		eventually(t, 20*time.Second, func() string {
			page := do(t, http.MethodGet, s.portal()+"/students/2", "", "")
			if page.status != 200 {
				return fmt.Sprintf("student page still %d", page.status)
			}
			if !strings.Contains(page.body, "Final Exam") {
				return "the grade acknowledged before the kill is gone"
			}
			return ""
		})
	})

	t.Run("log service down: entries logged meanwhile arrive after it returns", func(t *testing.T) {
		if err := syscall.Kill(s.pid("log"), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// While it is down (up -restart brings it back after a second), grading and the portal
		// keep serving, and their log entries queue.
		for i := range 5 {
			a := do(t, http.MethodGet, s.portal()+"/api/v1/students/1", "", "", "X-Request-ID", fmt.Sprintf("during-log-outage-%d", i))
			if a.status != 200 {
				t.Fatalf("API answered %d while the log service was down", a.status)
			}
		}
		eventually(t, 20*time.Second, func() string {
			for i := range 5 {
				id := fmt.Sprintf("during-log-outage-%d", i)
				for _, svc := range []string{"portal", "grading"} {
					a, err := try(http.MethodGet, s.logs()+"/v1/logs?service="+svc+"&request_id="+id, "", "")
					if err != nil || a.status != 200 || !strings.Contains(a.body, id) {
						return fmt.Sprintf("%s's entry for %s has not arrived (%d, %v)", svc, id, a.status, err)
					}
				}
			}
			return ""
		})
	})

	t.Run("log service frozen for 3 s: entries logged meanwhile arrive after it thaws", func(t *testing.T) {
		pid := s.pid("log")
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		thawed := false
		defer func() {
			if !thawed {
				_ = syscall.Kill(pid, syscall.SIGCONT)
			}
		}()
		// Frozen, it answers nothing: its health check times out, and shippers queue.
		frozenUntil := time.Now().Add(3 * time.Second)
		sent := 0
		for i := 0; time.Now().Before(frozenUntil); i++ {
			sent = i + 1
			a := do(t, http.MethodGet, s.portal()+"/api/v1/students/3", "", "", "X-Request-ID", fmt.Sprintf("while-log-frozen-%d", i))
			if a.status != 200 {
				t.Fatalf("API answered %d while the log service was frozen", a.status)
			}
			time.Sleep(200 * time.Millisecond) // a steady trickle of requests, not a timing assertion
		}
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		thawed = true
		eventually(t, 20*time.Second, func() string {
			for i := range sent {
				id := fmt.Sprintf("while-log-frozen-%d", i)
				for _, svc := range []string{"portal", "grading"} {
					a, err := try(http.MethodGet, s.logs()+"/v1/logs?service="+svc+"&request_id="+id, "", "")
					if err != nil || a.status != 200 || !strings.Contains(a.body, id) {
						return fmt.Sprintf("%s's entry for %s has not arrived (%d, %v)", svc, id, a.status, err)
					}
				}
			}
			return ""
		})
	})

	t.Run("Ctrl-C stops everything cleanly", func(t *testing.T) {
		if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		select {
		case <-s.exitedCh:
		case <-time.After(45 * time.Second):
			t.Fatal("gradebook up did not stop within 45s of SIGINT")
		}
		if s.exitErr != nil {
			t.Errorf("gradebook up exited with %v, want 0", s.exitErr)
		}
		for _, p := range []int{3000, 4000, 5000, 6000} {
			if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p+s.offset), time.Second); err == nil {
				c.Close()
				t.Errorf("port %d still answers after shutdown", p+s.offset)
			}
		}
		if !strings.Contains(s.output(), "gradebook: stopped") {
			t.Errorf("no clean-stop message")
		}
	})
}

func TestEndToEndWithToken(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole system")
	}
	bin := buildGradebook(t)
	s := startSystem(t, bin, "-token", "s3cret")

	for _, name := range []string{"registry", "log", "grading", "portal"} {
		if n := passing(t, s.registry(), name); n != registrations(name) {
			t.Errorf("%s: %d passing instances with -token, want %d", name, n, registrations(name))
		}
	}
	body := `{"firstName":"Ada","lastName":"Lovelace"}`
	if a := do(t, http.MethodPost, s.portal()+"/api/v1/students", "application/json", body); a.status != http.StatusUnauthorized {
		t.Errorf("API write without the token = %d, want 401", a.status)
	}
	if a := do(t, http.MethodPost, s.grading()+"/students", "application/json", body); a.status != http.StatusUnauthorized {
		t.Errorf("grading write without the token = %d, want 401", a.status)
	}
	if a := do(t, http.MethodPut, s.registry()+"/v1/agent/service/deregister/grading", "", ""); a.status != http.StatusUnauthorized {
		t.Errorf("registry write without the token = %d, want 401", a.status)
	}
	if a := do(t, http.MethodPost, s.portal()+"/api/v1/students", "application/json", body, "Authorization", "Bearer s3cret"); a.status != http.StatusCreated {
		t.Errorf("API write with the token = %d %s, want 201", a.status, a.body)
	}
	// A teacher's browser cannot send a bearer token: the form still works, the portal holds it.
	form := url.Values{"title": {"Quiz 9"}, "type": {"Quiz"}, "score": {"77"}}
	if a := do(t, http.MethodPost, s.portal()+"/students/1/grades", "application/x-www-form-urlencoded", form.Encode()); a.status != http.StatusSeeOther {
		t.Errorf("form post with -token = %d, want 303: %s", a.status, a.body)
	}
	if a := do(t, http.MethodGet, s.portal()+"/api/v1/students/1", "", ""); a.status != 200 || !strings.Contains(a.body, "Quiz 9") {
		t.Errorf("reads stay open, and show the form's grade: %d", a.status)
	}
}
