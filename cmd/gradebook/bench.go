package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gradebook/gradebook/internal/jaeger"
	"github.com/gradebook/gradebook/internal/prometheus"
	"github.com/gradebook/gradebook/pkg/service"
)

// benchConfig is what "gradebook bench" is asked to do.
type benchConfig struct {
	duration       time.Duration
	warmup         time.Duration
	rounds         int
	conns          int
	tracing        string
	tracingCompare bool
	transport      string
	targets        string
	cpuProfileDir  string
	jaegerBin      string
	startTimeout   time.Duration
	baseline       string // another gradebook binary whose system runs beside this one's
}

// benchModes are the tracing settings -tracing takes: the sampler each sets, and whether the
// system runs with Jaeger (up -tracing).
var benchModes = map[string][]string{
	"off": nil,
	"0.1": {"OTEL_TRACES_SAMPLER=parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG=0.1"},
	"1":   {"OTEL_TRACES_SAMPLER=parentbased_always_on"},
}

// benchTargetNames are the targets of one system, in the order they are reported.
var benchTargetNames = []string{"direct", "proxy", "gateway", "html"}

func benchCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gradebook bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c benchConfig
	fs.DurationVar(&c.duration, "duration", 3*time.Second, "how long each target is driven in each round")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "how long each target is driven once before the first round, unmeasured (connections, caches, breakers)")
	fs.IntVar(&c.rounds, "rounds", 5, "how many rounds; every round drives each target once, in a rotating order, and the ratios are medians over rounds")
	fs.IntVar(&c.conns, "conns", 32, "keep-alive connections the load generator keeps busy at once, each one request at a time (closed loop)")
	fs.StringVar(&c.tracing, "tracing", "off", "tracing `mode` of the system: off (no collector: the default, a no-op provider), 0.1 (up -tracing, 10 % of new traces sampled) or 1 (up -tracing, every request traced); the traced modes export to a Jaeger that up starts")
	fs.BoolVar(&c.tracingCompare, "tracing-compare", false, "instead of -tracing, run three systems side by side (off, 0.1 and 1) and drive the gateway of each in turn, round by round, with grading direct for reference")
	fs.StringVar(&c.transport, "transport", "http", "how the portal calls grading (up's -grading-transport): http or grpc; direct and proxy stay on HTTP")
	fs.StringVar(&c.targets, "targets", strings.Join(benchTargetNames, ","), "the targets to drive, comma-separated: direct, proxy, gateway, html (only the gateway, say, to profile its path alone)")
	fs.StringVar(&c.cpuProfileDir, "cpuprofile-dir", "", "write a CPU profile of each process (every service, the reverse proxy and the load generator) into this `directory`, covering the process's whole run; the services write theirs when they stop ("+service.CPUProfileDirEnv+")")
	fs.StringVar(&c.jaegerBin, "jaeger-bin", "", "with a traced mode, run this Jaeger `binary` instead of the one built from tools/jaeger (built once, then cached)")
	fs.DurationVar(&c.startTimeout, "start-timeout", 2*time.Minute, "how long to wait for the system to come up")
	fs.StringVar(&c.baseline, "baseline", "", "another gradebook `binary` (an earlier build, say): its system runs beside this one's, started the same way, its targets (named base:<target>) join the same rounds, and each target's ratio to its baseline is printed: a before/after taken in one run")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: gradebook bench [flags]

Measures the whole running system from a separate process. It starts the system as
"gradebook up" does (a child "gradebook up" with default flags: the built-in registry, the log
service, one grading instance on its embedded store, the portal; every request logged at info
and shipped to the log service), in a temporary data directory and at a port offset where every
port is free. Beside it, "gradebook bench-proxy" runs a bare httputil.ReverseProxy to the same
grading instance, in a process of its own. This process is the load generator: -conns keep-alive
connections, each sending one request at a time, only to 127.0.0.1.

The targets, all reading student 1 (one of the demo students):
  direct   grading itself:                 GET /students/1
  proxy    the bare reverse proxy:         GET /students/1
  gateway  the portal's gateway:           GET /api/v1/students/1
  html     the portal's student page:      GET /students/1

After one unmeasured warm-up of each, every round drives each target for -duration, one after
another, the order rotating from round to round so that background load hits them alike. Any
answer other than 2xx counts as an error and is reported. Printed per target: req/s, p50 and p99
latency, errors, and CPU time per request of each process (from /proc); then the ratios
gateway/proxy, html/direct, gateway/direct and proxy/direct, each the median of the rounds'
ratios, and the load average before and after. Each ratio is also given from the system's CPU
time per request (all its processes, the load generator's excluded): while the cores are
saturated, throughput goes as the inverse of it, and other work on the machine moves it far
less than it moves req/s. Absolute figures move with the machine's load;
compare ratios taken in one run.

With -baseline OLD, a second system is started from the binary OLD beside the first, and its
targets take their turns in the same rounds: this binary's figures against OLD's, in one run,
under the same background load.

The services have no profiling endpoint; -cpuprofile-dir starts them with `+service.CPUProfileDirEnv+`,
which makes each write a profile of its whole run when it stops. Use -targets gateway to profile
the gateway's path alone.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench takes no arguments, got %q", fs.Args())
	}
	if c.duration <= 0 || c.duration > 10*time.Minute {
		return fmt.Errorf("-duration %s: want more than 0 and at most 10m", c.duration)
	}
	if c.warmup < 0 || c.warmup > time.Minute {
		return fmt.Errorf("-warmup %s: want 0 to 1m", c.warmup)
	}
	if c.rounds < 1 || c.rounds > 100 {
		return fmt.Errorf("-rounds %d: want 1 to 100", c.rounds)
	}
	if c.conns < 1 || c.conns > 1000 {
		return fmt.Errorf("-conns %d: want 1 to 1000", c.conns)
	}
	if _, ok := benchModes[c.tracing]; !ok {
		return fmt.Errorf("-tracing %q: want off, 0.1 or 1", c.tracing)
	}
	if c.baseline != "" && c.tracingCompare {
		return errors.New("-baseline and -tracing-compare do not go together: give -tracing instead")
	}
	if c.transport != "http" && c.transport != "grpc" {
		return fmt.Errorf("-transport %q: want http or grpc", c.transport)
	}
	wanted := strings.Split(c.targets, ",")
	for _, t := range wanted {
		if !slices.Contains(benchTargetNames, t) {
			return fmt.Errorf("-targets: unknown target %q; want some of %s", t, strings.Join(benchTargetNames, ", "))
		}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program to start the system: %w", err)
	}
	if c.cpuProfileDir != "" {
		if c.cpuProfileDir, err = filepath.Abs(c.cpuProfileDir); err != nil {
			return err
		}
		if err := os.MkdirAll(c.cpuProfileDir, 0o755); err != nil {
			return fmt.Errorf("-cpuprofile-dir: %w", err)
		}
	}
	modes := []string{c.tracing}
	if c.tracingCompare {
		modes = []string{"off", "0.1", "1"}
	}
	traced := slices.ContainsFunc(modes, func(m string) bool { return m != "off" })
	if traced && c.jaegerBin == "" {
		if c.jaegerBin, err = buildTool(ctx, stdout, stderr, jaeger.Tool); err != nil {
			return fmt.Errorf("a traced mode needs Jaeger (or give -jaeger-bin): %w", err)
		}
	}
	tmp, err := os.MkdirTemp("", "gradebook-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// Every system is started before any load: with -tracing-compare, all three run side by side
	// and only the one being measured gets requests.
	var systems []*benchSystem
	defer func() {
		for _, s := range systems {
			s.stop()
		}
	}()
	taken := map[int]bool{}
	for _, m := range modes {
		s, err := startBenchSystem(ctx, self, c, m, filepath.Join(tmp, "mode-"+m), taken, c.cpuProfileDir, stdout)
		if ctx.Err() != nil {
			return nil // interrupted, as up is: not a failure
		}
		if err != nil {
			return err
		}
		systems = append(systems, s)
	}
	if c.baseline != "" {
		profiles := ""
		if c.cpuProfileDir != "" {
			profiles = filepath.Join(c.cpuProfileDir, "baseline")
			if err := os.MkdirAll(profiles, 0o755); err != nil {
				return err
			}
		}
		s, err := startBenchSystem(ctx, c.baseline, c, c.tracing, filepath.Join(tmp, "baseline"), taken, profiles, stdout)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("-baseline: %w", err)
		}
		s.prefix = "base:"
		systems = append(systems, s)
	}

	var targets []*benchTarget
	if c.tracingCompare {
		targets = append(targets, &benchTarget{name: "direct", url: systems[0].gradingURL() + "/students/1", sys: systems[0]})
		for _, s := range systems {
			targets = append(targets, &benchTarget{name: "gateway/tracing=" + s.mode, url: s.portalURL() + "/api/v1/students/1", sys: s})
		}
	} else {
		for _, s := range systems {
			all := map[string]string{
				"direct":  s.gradingURL() + "/students/1",
				"proxy":   "http://" + s.proxyAddr + "/students/1",
				"gateway": s.portalURL() + "/api/v1/students/1",
				"html":    s.portalURL() + "/students/1",
			}
			for _, name := range benchTargetNames {
				if slices.Contains(wanted, name) {
					targets = append(targets, &benchTarget{name: s.prefix + name, url: all[name], sys: s})
				}
			}
		}
	}

	var profile *os.File
	if c.cpuProfileDir != "" {
		if profile, err = os.Create(filepath.Join(c.cpuProfileDir, "loadgen.pprof")); err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(profile); err != nil {
			return errors.Join(err, profile.Close())
		}
	}
	load0 := loadAverage()
	started := time.Now()
	fmt.Fprintf(stdout, "gradebook bench: %s, %d connections, %d rounds of %s per target (warm-up %s), transport %s, load average %s\n",
		started.UTC().Format(time.RFC3339), c.conns, c.rounds, c.duration, c.warmup, c.transport, load0)
	if c.warmup > 0 {
		for _, t := range targets {
			if ctx.Err() != nil {
				break
			}
			_ = drive(ctx, t, c.conns, c.warmup)
		}
	}
	for r := range c.rounds {
		for i := range targets {
			if ctx.Err() != nil {
				break
			}
			t := targets[(i+r)%len(targets)]
			t.rounds = append(t.rounds, measure(ctx, t, c.conns, c.duration))
		}
	}
	if profile != nil {
		pprof.StopCPUProfile()
		_ = profile.Close()
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stdout, "gradebook bench: interrupted; nothing to report")
		return nil
	}
	benchReport(stdout, c, targets, systems)
	fmt.Fprintf(stdout, "load average: %s before, %s after; %s in all\n", load0, loadAverage(), time.Since(started).Round(time.Second))
	errs := 0
	for _, t := range targets {
		for _, r := range t.rounds {
			errs += r.errors
		}
	}
	if c.cpuProfileDir != "" {
		// The services write their profiles as they stop.
		for _, s := range systems {
			s.stop()
		}
		fmt.Fprintf(stdout, "CPU profiles in %s: go tool pprof -top %s\n", c.cpuProfileDir, filepath.Join(c.cpuProfileDir, "<process>.pprof"))
	}
	if errs > 0 {
		return fmt.Errorf("%d requests failed", errs)
	}
	return nil
}

// benchSystem is one running "gradebook up" and its bare reverse proxy.
type benchSystem struct {
	mode      string
	prefix    string // before its targets' names: "base:" for -baseline's system
	offset    int
	proxyAddr string
	pids      map[string]int // process name: pid, the proxy's included
	up        *exec.Cmd
	proxy     *exec.Cmd
	upDone    chan struct{}
	proxyDone chan struct{}
	stopOnce  sync.Once
}

func (s *benchSystem) gradingURL() string { return "http://127.0.0.1:" + strconv.Itoa(6000+s.offset) }
func (s *benchSystem) portalURL() string  { return "http://127.0.0.1:" + strconv.Itoa(5000+s.offset) }

// benchPorts are the ports a system takes before -port-offset: the services', grading's gRPC,
// Jaeger's, Prometheus's (kept clear though unused) and the reverse proxy's.
func benchPorts() []int {
	ports := []int{benchProxyPort, prometheus.DefaultPort}
	for _, d := range listenDefaults() {
		if p, err := defaultPort(d); err == nil {
			ports = append(ports, p)
		}
	}
	for _, a := range jaeger.DefaultAddrs("127.0.0.1").Listens() {
		_, p, _ := net.SplitHostPort(a)
		n, _ := strconv.Atoi(p)
		ports = append(ports, n)
	}
	return ports
}

// benchProxyPort is the reverse proxy's port before -port-offset.
const benchProxyPort = 6500

// freeBenchOffset is a port offset at which every port of a system is free and none is in taken
// (a system started a moment ago whose processes may not have bound theirs yet).
func freeBenchOffset(taken map[int]bool) (int, error) {
	ports := benchPorts()
	for range 100 {
		// At most 20000+27999: Jaeger's UI port, 16686, moved by it stays under 65536.
		off := 20000 + rand.IntN(28)*1000 + rand.IntN(1000)
		ok := true
		for _, p := range ports {
			if taken[p+off] {
				ok = false
				break
			}
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+off))
			if err != nil {
				ok = false
				break
			}
			ln.Close()
		}
		if ok {
			for _, p := range ports {
				taken[p+off] = true
			}
			return off, nil
		}
	}
	return 0, errors.New("no port offset found at which all of the system's ports are free")
}

var upPidLine = regexp.MustCompile(`^gradebook: started (\S+)\s+pid (\d+)`)

// startBenchSystem starts "gradebook up" in mode and the reverse proxy in front of its grading,
// and waits until both serve.
func startBenchSystem(ctx context.Context, self string, c benchConfig, mode, data string, taken map[int]bool, profiles string, stdout io.Writer) (*benchSystem, error) {
	off, err := freeBenchOffset(taken)
	if err != nil {
		return nil, err
	}
	s := &benchSystem{mode: mode, offset: off, pids: map[string]int{}, upDone: make(chan struct{}), proxyDone: make(chan struct{})}
	args := []string{"up", "-data", data, "-port-offset", strconv.Itoa(off), "-grading-transport", c.transport, "-start-timeout", c.startTimeout.String()}
	env := benchEnv(os.Environ())
	if mode != "off" {
		args = append(args, "-tracing", "-jaeger-bin", c.jaegerBin)
		env = append(env, benchModes[mode]...)
	}
	profileDir := ""
	if profiles != "" {
		profileDir = profiles
		if c.tracingCompare {
			profileDir = filepath.Join(profiles, "tracing-"+mode)
			if err := os.MkdirAll(profileDir, 0o755); err != nil {
				return nil, err
			}
		}
		env = append(env, service.CPUProfileDirEnv+"="+profileDir)
	}
	s.up = exec.Command(self, args...)
	s.up.Env = env
	s.up.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	out, err := s.up.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s.up.Stderr = s.up.Stdout
	if err := s.up.Start(); err != nil {
		return nil, fmt.Errorf("start gradebook up: %w", err)
	}
	// up itself relays every service's log lines from their stderr: its CPU is the system's too.
	s.pids["up"] = s.up.Process.Pid
	go func() {
		_ = s.up.Wait()
		close(s.upDone)
	}()
	// up's output: the pid lines and the announcement are read; the services' log lines after it
	// are read and dropped, as a terminal would take them.
	isUp := make(chan struct{})
	var early strings.Builder
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		announced := false
		for sc.Scan() {
			if announced {
				continue
			}
			line := sc.Text()
			mu.Lock()
			if early.Len() < 1<<20 {
				early.WriteString(line + "\n")
			}
			if m := upPidLine.FindStringSubmatch(line); m != nil {
				s.pids[m[1]], _ = strconv.Atoi(m[2])
			}
			mu.Unlock()
			if strings.HasPrefix(line, "Press Ctrl-C to stop") {
				announced = true
				close(isUp)
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	fail := func(err error) (*benchSystem, error) {
		s.stop()
		mu.Lock()
		defer mu.Unlock()
		return nil, fmt.Errorf("%w; gradebook up's output:\n%s", err, early.String())
	}
	select {
	case <-isUp:
	case <-s.upDone:
		return fail(errors.New("gradebook up exited before the system was up"))
	case <-ctx.Done():
		return fail(ctx.Err())
	case <-time.After(c.startTimeout + 10*time.Second):
		return fail(errors.New("the system did not come up in time"))
	}

	s.proxyAddr = "127.0.0.1:" + strconv.Itoa(benchProxyPort+off)
	s.proxy = exec.Command(self, "bench-proxy", "-listen", s.proxyAddr, "-target", s.gradingURL(), "-conns", strconv.Itoa(c.conns))
	s.proxy.Env = env
	if profileDir != "" {
		s.proxy.Env = append(s.proxy.Env, service.CPUProfileDirEnv+"="+profileDir)
	}
	s.proxy.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	s.proxy.Stdout, s.proxy.Stderr = io.Discard, io.Discard
	if err := s.proxy.Start(); err != nil {
		return fail(fmt.Errorf("start the reverse proxy: %w", err))
	}
	go func() {
		_ = s.proxy.Wait()
		close(s.proxyDone)
	}()
	s.pids["proxy"] = s.proxy.Process.Pid
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + s.proxyAddr + "/students/1")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("the reverse proxy on %s does not serve grading's student 1: %v", s.proxyAddr, err))
		}
		select {
		case <-s.proxyDone:
			return fail(errors.New("the reverse proxy exited"))
		case <-time.After(50 * time.Millisecond):
		}
	}
	mu.Lock()
	names := make([]string, 0, len(s.pids))
	for n, p := range s.pids {
		names = append(names, fmt.Sprintf("%s %d", n, p))
	}
	mu.Unlock()
	slices.Sort(names)
	fmt.Fprintf(stdout, "gradebook bench: system of %s (tracing %s) up at port offset %d; pids: %s\n", self, mode, off, strings.Join(names, ", "))
	return s, nil
}

// benchEnv is the environment the system runs with: the launcher's without any GRADEBOOK_*,
// OTEL_* or CONSUL_* variable, so that every service runs with its defaults (logging at info, the
// built-in registry) and with the tracing and profiling settings bench chooses itself.
func benchEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GRADEBOOK_") || strings.HasPrefix(k, "OTEL_") || strings.HasPrefix(k, "CONSUL_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// stop stops the proxy, then up as Ctrl-C would (up stops the services in order), and waits for
// both, killing what has not stopped in 30 s.
func (s *benchSystem) stop() {
	s.stopOnce.Do(func() {
		for _, p := range []struct {
			cmd  *exec.Cmd
			done chan struct{}
		}{{s.proxy, s.proxyDone}, {s.up, s.upDone}} {
			if p.cmd == nil || p.cmd.Process == nil {
				continue
			}
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(30 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
	})
}

// benchTarget is one URL under load and what each round measured.
type benchTarget struct {
	name   string
	url    string
	sys    *benchSystem
	rounds []roundResult
}

// roundResult is what one round measured of one target.
type roundResult struct {
	requests, errors int
	elapsed          time.Duration
	p50, p99         time.Duration
	cpu              map[string]time.Duration // CPU time each process of the target's system spent
	firstErr         string
}

func (r roundResult) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// systemCPU is the CPU time per request, in µs, of every process of the system (the load
// generator's excluded): on a machine whose cores are all busy, throughput goes as its inverse,
// whatever else the machine runs, so it compares targets more steadily than req/s does.
func (r roundResult) systemCPU() float64 {
	if r.requests == 0 {
		return 0
	}
	var total time.Duration
	for p, d := range r.cpu {
		if p != "loadgen" {
			total += d
		}
	}
	return float64(total.Microseconds()) / float64(r.requests)
}

// measure drives t for d and reads the CPU time its system's processes spent meanwhile.
func measure(ctx context.Context, t *benchTarget, conns int, d time.Duration) roundResult {
	before := cpuTimes(t.sys.pids)
	r := drive(ctx, t, conns, d)
	after := cpuTimes(t.sys.pids)
	r.cpu = map[string]time.Duration{}
	for n, a := range after {
		if b, ok := before[n]; ok {
			r.cpu[n] = a - b
		}
	}
	return r
}

// drive keeps conns connections to t busy for d, each sending one request at a time, and
// measures them.
func drive(ctx context.Context, t *benchTarget, conns int, d time.Duration) roundResult {
	u, err := url.Parse(t.url)
	if err != nil {
		return roundResult{errors: 1, firstErr: err.Error()}
	}
	request := []byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: gradebook-bench\r\nAccept: */*\r\n\r\n")
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	type result struct {
		lat      []time.Duration
		errors   int
		firstErr string
	}
	results := make([]result, conns)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range conns {
		wg.Go(func() {
			res := &results[i]
			res.lat = make([]time.Duration, 0, 4096)
			fail := func(err error) {
				res.errors++
				if res.firstErr == "" {
					res.firstErr = err.Error()
				}
			}
			var conn net.Conn
			var br *bufio.Reader
			defer func() {
				if conn != nil {
					conn.Close()
				}
			}()
			for ctx.Err() == nil {
				if conn == nil {
					var err error
					if conn, err = net.DialTimeout("tcp", u.Host, 5*time.Second); err != nil {
						fail(err)
						select {
						case <-ctx.Done():
						case <-time.After(10 * time.Millisecond):
						}
						continue
					}
					br = bufio.NewReaderSize(conn, 16<<10)
				}
				begin := time.Now()
				_ = conn.SetDeadline(begin.Add(10 * time.Second))
				status, body, err := roundTrip(conn, br, request)
				if err != nil {
					if ctx.Err() != nil {
						break // cut off by the end of the round
					}
					fail(err)
					conn.Close()
					conn = nil
					continue
				}
				res.lat = append(res.lat, time.Since(begin))
				if status < 200 || status > 299 {
					fail(fmt.Errorf("status %d: %s", status, body))
				}
			}
		})
	}
	wg.Wait()
	out := roundResult{elapsed: time.Since(start)}
	var all []time.Duration
	for _, r := range results {
		all = append(all, r.lat...)
		out.errors += r.errors
		if out.firstErr == "" {
			out.firstErr = r.firstErr
		}
	}
	out.requests = len(all)
	if len(all) > 0 {
		slices.Sort(all)
		out.p50 = all[len(all)/2]
		out.p99 = all[min(len(all)-1, len(all)*99/100)]
	}
	return out
}

// roundTrip writes one request on conn and reads its whole response, returning the status and,
// for an answer other than 2xx, the start of its body.
func roundTrip(conn net.Conn, br *bufio.Reader, request []byte) (status int, body string, err error) {
	if _, err := conn.Write(request); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, "", err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// What the answer says, for the error report: the first line of its body, kept short.
		head, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		body, _, _ = strings.Cut(strings.TrimSpace(string(head)), "\n")
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, "", err
	}
	if resp.Close {
		return resp.StatusCode, body, errors.New("the server closed the connection")
	}
	return resp.StatusCode, body, nil
}

// cpuTimes is the CPU time (user and system) each process has used so far, from /proc.
func cpuTimes(pids map[string]int) map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, pid := range pids {
		if d, ok := processCPU(pid); ok {
			// "gradebook jaeger" runs Jaeger as its child: Jaeger's CPU is the child's.
			if name == "jaeger" {
				d += childrenCPU(pid)
			}
			out[name] = d
		}
	}
	if d, ok := processCPU(os.Getpid()); ok {
		out["loadgen"] = d
	}
	return out
}

// childrenCPU is the CPU time the running children of pid have used so far. The kernel lists a
// child under the thread that started it, and a Go program starts one from any of its threads.
func childrenCPU(pid int) time.Duration {
	lists, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	var total time.Duration
	for _, l := range lists {
		b, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				if d, ok := processCPU(c); ok {
					total += d
				}
			}
		}
	}
	return total
}

// processCPU reads utime+stime of pid from /proc/<pid>/stat (clock ticks of 10 ms on Linux).
func processCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may hold spaces: count fields after its closing one.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, true
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// median of xs; 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// benchReport prints each target's figures (medians over rounds) and the ratios.
func benchReport(w io.Writer, c benchConfig, targets []*benchTarget, systems []*benchSystem) {
	procs := []string{"portal", "grading", "log", "registry", "up", "proxy", "jaeger", "loadgen"}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "target\treq/s\tp50\tp99\trequests\terrors\tsystem µs/req\t")
	for _, p := range procs {
		fmt.Fprintf(tw, "%s µs/req\t", p)
	}
	fmt.Fprintln(tw)
	for _, t := range targets {
		var rates, p50s, p99s []float64
		cpu := map[string][]float64{}
		n, errs := 0, 0
		for _, r := range t.rounds {
			rates = append(rates, r.rate())
			p50s = append(p50s, float64(r.p50))
			p99s = append(p99s, float64(r.p99))
			n += r.requests
			errs += r.errors
			for p, d := range r.cpu {
				if r.requests > 0 {
					cpu[p] = append(cpu[p], float64(d.Microseconds())/float64(r.requests))
				}
			}
		}
		var system []float64
		for _, r := range t.rounds {
			system = append(system, r.systemCPU())
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%d\t%d\t%.0f\t", t.name, median(rates),
			time.Duration(median(p50s)).Round(10*time.Microsecond), time.Duration(median(p99s)).Round(10*time.Microsecond), n, errs, median(system))
		for _, p := range procs {
			if v, ok := cpu[p]; ok {
				fmt.Fprintf(tw, "%.0f\t", median(v))
			} else {
				fmt.Fprint(tw, "-\t")
			}
		}
		fmt.Fprintln(tw)
	}
	_ = tw.Flush()
	for _, t := range targets {
		for _, r := range t.rounds {
			if r.errors > 0 {
				fmt.Fprintf(w, "errors on %s: %d in a round, the first: %s\n", t.name, r.errors, r.firstErr)
				break
			}
		}
	}
	byName := map[string]*benchTarget{}
	for _, t := range targets {
		byName[t.name] = t
	}
	ratio := func(label, a, b string) {
		ta, tb := byName[a], byName[b]
		if ta == nil || tb == nil {
			return
		}
		var rs []float64
		for i := range min(len(ta.rounds), len(tb.rounds)) {
			if rb := tb.rounds[i].rate(); rb > 0 {
				rs = append(rs, ta.rounds[i].rate()/rb)
			}
		}
		slices.Sort(rs)
		if len(rs) == 0 {
			return
		}
		// The same ratio from CPU per request: b's system CPU per request over a's.
		var cs []float64
		for i := range min(len(ta.rounds), len(tb.rounds)) {
			if ca := ta.rounds[i].systemCPU(); ca > 0 {
				cs = append(cs, tb.rounds[i].systemCPU()/ca)
			}
		}
		fmt.Fprintf(w, "%-28s %.3f  (rounds: %.3f to %.3f); by system CPU per request %.3f\n", label, median(rs), rs[0], rs[len(rs)-1], median(cs))
	}
	fmt.Fprintln(w, "ratios, median of the rounds:")
	if c.tracingCompare {
		for _, s := range systems[1:] {
			name := "gateway/tracing=" + s.mode
			ratio("tracing "+s.mode+" / off", name, "gateway/tracing=off")
		}
		ratio("gateway (off) / direct", "gateway/tracing=off", "direct")
		return
	}
	for _, s := range systems {
		p := s.prefix
		ratio(p+"gateway / "+p+"proxy", p+"gateway", p+"proxy")
		ratio(p+"html / "+p+"direct", p+"html", p+"direct")
		ratio(p+"gateway / "+p+"direct", p+"gateway", p+"direct")
		ratio(p+"proxy / "+p+"direct", p+"proxy", p+"direct")
	}
	if len(systems) > 1 {
		for _, name := range benchTargetNames {
			ratio(name+" / base:"+name, name, "base:"+name)
		}
	}
}

// benchProxyCommand is "gradebook bench-proxy", the baseline bench compares the gateway with: the
// standard library's reverse proxy in front of one grading instance, with nothing else (no
// logging, no tracing, no discovery), in a process of its own. It is not listed in the usage.
func benchProxyCommand(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gradebook bench-proxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:6500", "`address` to listen on")
	target := fs.String("target", "http://127.0.0.1:6000", "the `URL` to proxy to")
	conns := fs.Int("conns", 32, "idle connections to keep to the target")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*target)
	if err != nil || u.Host == "" {
		return fmt.Errorf("-target %q: want an http:// URL", *target)
	}
	if dir := getenv(service.CPUProfileDirEnv); dir != "" {
		stop, err := service.StartCPUProfile(dir, "proxy")
		if err != nil {
			return err
		}
		defer stop()
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.Transport = &http.Transport{MaxIdleConnsPerHost: max(*conns, 2) * 2, MaxIdleConns: 1024, IdleConnTimeout: 90 * time.Second}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
