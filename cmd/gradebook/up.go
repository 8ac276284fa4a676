package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	gradingserver "github.com/gradebook/gradebook/grading/server"
	"github.com/gradebook/gradebook/logging"
	"github.com/gradebook/gradebook/pkg/config"
	"github.com/gradebook/gradebook/portal"
	"github.com/gradebook/gradebook/registry"
)

// upConfig is what "gradebook up" is asked to do.
type upConfig struct {
	registry         string
	data             string
	token            string
	host             string
	portOffset       int
	gradingTransport string
	checkInterval    time.Duration
	restart          bool
	startTimeout     time.Duration
}

// child is one service process that up supervises.
type child struct {
	name   string
	listen string
	args   []string
	links  []string // what to print once everything is up
	tags   []string // each registration it makes, by tag; none: one untagged registration

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

func up(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gradebook up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c upConfig
	fs.StringVar(&c.registry, "registry", "", "use the registry (or Consul agent) at this `URL` instead of starting the built-in hub, e.g. http://127.0.0.1:8500")
	fs.StringVar(&c.data, "data", "data", "`directory` under which each service keeps its state (data/registry, data/log, data/grading)")
	fs.StringVar(&c.token, "token", "", "shared `secret` handed to every service (-token)")
	fs.StringVar(&c.host, "host", "127.0.0.1", "`address` every service listens on")
	fs.IntVar(&c.portOffset, "port-offset", 0, "add `N` to every default port ("+defaultPorts()+"), to run beside another copy")
	fs.StringVar(&c.gradingTransport, "grading-transport", "http", "how the portal calls grading: http or grpc")
	fs.DurationVar(&c.checkInterval, "check-interval", time.Second, "how often the registry checks each service")
	fs.BoolVar(&c.restart, "restart", false, "restart a service that exits on its own (after a kill -9, say)")
	fs.DurationVar(&c.startTimeout, "start-timeout", time.Minute, "how long to wait for every service to turn healthy")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: gradebook up [flags]

Starts the registry, log, grading and portal services, each as its own process from this binary,
prefixes their output with their names, waits until all are healthy, and prints where to look.
Ctrl-C (or SIGTERM, or SIGHUP) stops them all cleanly. Flags also read GRADEBOOK_<FLAG>
variables, and -registry and -token read CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN.

Flags:`)
		fs.PrintDefaults()
	}
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("up takes no arguments, got %q", fs.Args())
	}
	if c.registry != "" {
		u, err := config.NormalizeURL(c.registry)
		if err != nil {
			return fmt.Errorf("-registry: %w", err)
		}
		c.registry = u
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program to start the services: %w", err)
	}
	children, err := plan(c)
	if err != nil {
		return err
	}
	out := &prefixer{w: stdout}
	fmt.Fprintf(stdout, "gradebook: starting %d services (data in %s)\n", len(children), c.data)
	for _, ch := range children {
		if err := ch.start(self, out); err != nil {
			stopAll(children, stdout)
			return err
		}
		fmt.Fprintf(stdout, "gradebook: started %-8s pid %d, listening on %s\n", ch.name, ch.pid(), ch.listen)
	}
	registryURL := c.registry
	if registryURL == "" {
		registryURL = "http://" + children[0].listen
	}
	if err := waitHealthy(ctx, children, registryURL, c.startTimeout); err != nil {
		stopAll(children, stdout)
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	fmt.Fprintln(stdout, "\ngradebook is up:")
	for _, ch := range children {
		for _, l := range ch.links {
			fmt.Fprintf(stdout, "  %-9s %s\n", ch.name, l)
		}
	}
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")

	supervise(ctx, children, self, out, stdout, c.restart)
	stopAll(children, stdout)
	return nil
}

// listenAddr is one address a service listens on by default.
type listenAddr struct {
	service string // the service's name: its command (gradebook <name>), registered name and data directory
	flag    string // the service's flag that sets the address
	def     string // the default the service's own package gives it
}

// listenDefaults is the one table of the addresses the services listen on. Each is taken from the
// service's own package, so that a service started by up and one started alone agree; up keeps
// every port, moved by -port-offset, on -host.
func listenDefaults() []listenAddr {
	return []listenAddr{
		{registry.DefaultName, "-listen", registry.DefaultListen},
		{logging.DefaultName, "-listen", logging.DefaultListen},
		{gradingserver.DefaultName, "-listen", gradingserver.DefaultListen},
		{gradingserver.DefaultName, "-grpc-listen", gradingserver.DefaultGRPCListen},
		{portal.DefaultName, "-listen", portal.DefaultListen},
	}
}

// addrKey names a row of listenDefaults: a service and one of its flags.
type addrKey struct{ service, flag string }

// addrs are the addresses up gives the services, by service and flag.
type addrs map[addrKey]string

// placeAddrs moves every address of listenDefaults to host, its port by offset.
func placeAddrs(host string, offset int) (addrs, error) {
	out := addrs{}
	for _, d := range listenDefaults() {
		port, err := defaultPort(d)
		if err != nil {
			return nil, err
		}
		moved := port + offset
		if moved < 1 || moved > 65535 {
			return nil, fmt.Errorf("-port-offset %d moves %s's %s port %d to %d, outside 1-65535", offset, d.service, d.flag, port, moved)
		}
		out[addrKey{d.service, d.flag}] = net.JoinHostPort(host, strconv.Itoa(moved))
	}
	return out, nil
}

// of is the address of the service's flag. The names are the constants of listenDefaults, so a
// missing one is a mistake in this file, not in the user's input.
func (a addrs) of(service, flag string) string {
	addr, ok := a[addrKey{service, flag}]
	if !ok {
		panic(fmt.Sprintf("gradebook up: no address for %s %s in listenDefaults", service, flag))
	}
	return addr
}

// defaultPort is the port of a row of listenDefaults.
func defaultPort(d listenAddr) (int, error) {
	_, p, err := net.SplitHostPort(d.def)
	if err != nil {
		return 0, fmt.Errorf("%s's default %s %q: %w", d.service, d.flag, d.def, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return 0, fmt.Errorf("%s's default %s %q: the port is not a number", d.service, d.flag, d.def)
	}
	return port, nil
}

// listenPort is the default port of the service's -listen, for the usage text.
func listenPort(service string) int {
	for _, d := range listenDefaults() {
		if d.service == service && d.flag == "-listen" {
			if p, err := defaultPort(d); err == nil {
				return p
			}
		}
	}
	return 0
}

// defaultPorts lists every default port, ascending, for the help text.
func defaultPorts() string {
	var ports []int
	for _, d := range listenDefaults() {
		if p, err := defaultPort(d); err == nil {
			ports = append(ports, p)
		}
	}
	slices.Sort(ports)
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ", ")
}

// argv builds a child's command line by flag name. Flags keep the order in which they were first
// set, and setting one again replaces its value, so that no flag is ever given twice and nothing
// depends on where in the list a flag landed.
type argv struct {
	cmd    string
	flags  []string
	values map[string]string
}

func newArgv(cmd string) *argv { return &argv{cmd: cmd, values: map[string]string{}} }

func (a *argv) set(flag, value string) *argv {
	if _, ok := a.values[flag]; !ok {
		a.flags = append(a.flags, flag)
	}
	a.values[flag] = value
	return a
}

// list is the command line: the command, then each flag followed by its value.
func (a *argv) list() []string {
	out := []string{a.cmd}
	for _, f := range a.flags {
		out = append(out, f, a.values[f])
	}
	return out
}

// plan lists the processes to start, in start-up order (and stopped in reverse).
func plan(c upConfig) ([]*child, error) {
	at, err := placeAddrs(c.host, c.portOffset)
	if err != nil {
		return nil, err
	}
	registryURL := c.registry
	if registryURL == "" {
		registryURL = "http://" + at.of(registry.DefaultName, "-listen")
	}
	// newChild is a child with the flags every service takes; the registry itself is the only
	// one not told where the registry is.
	newChild := func(name string) (*child, *argv) {
		ch := &child{name: name, listen: at.of(name, "-listen")}
		a := newArgv(name).
			set("-listen", ch.listen).
			set("-data", filepath.Join(c.data, name)).
			set("-check-interval", c.checkInterval.String())
		if c.token != "" {
			a.set("-token", c.token)
		}
		if name != registry.DefaultName {
			a.set("-registry", registryURL)
		}
		return ch, a
	}
	var out []*child
	if c.registry == "" {
		hub, a := newChild(registry.DefaultName)
		hub.args = a.list()
		hub.links = []string{"http://" + hub.listen + "/   (services and their health)"}
		out = append(out, hub)
	}

	lg, a := newChild(logging.DefaultName)
	lg.args = a.list()
	lg.links = []string{"http://" + lg.listen + "/v1/logs"}

	gr, a := newChild(gradingserver.DefaultName)
	grpcListen := at.of(gradingserver.DefaultName, "-grpc-listen")
	gr.args = a.set("-grpc-listen", grpcListen).list()
	gr.links = []string{"http://" + gr.listen + "/students", "grpc://" + grpcListen + "  (gRPC: gradebook.grading.v1.Grading)"}
	// Grading registers its HTTP and its gRPC endpoint separately; both must pass.
	gr.tags = []string{"http", "grpc"}

	po, a := newChild(portal.DefaultName)
	po.args = a.set("-grading-transport", c.gradingTransport).list()
	po.links = []string{"http://" + po.listen + "/   (the teacher portal)", "http://" + po.listen + "/status"}

	return append(out, lg, gr, po), nil
}

func (ch *child) start(self string, out *prefixer) error {
	cmd := exec.Command(self, ch.args...)
	cmd.Stdin = nil
	w := out.writer(ch.name)
	cmd.Stdout, cmd.Stderr = w, w
	// Each child gets its own process group, so that the terminal's Ctrl-C reaches only the
	// launcher, which then stops the children in order.
	// Pdeathsig stops the child should the launcher die without stopping it (SIGKILL, a crash),
	// so that no orphan keeps the ports and a dead pipe for its output.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Env = childEnv(os.Environ())
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", ch.name, err)
	}
	exited := make(chan struct{})
	ch.mu.Lock()
	ch.cmd, ch.exited, ch.err = cmd, exited, nil
	ch.mu.Unlock()
	go func() {
		err := cmd.Wait()
		_ = w.Close()
		ch.mu.Lock()
		ch.err = err
		ch.mu.Unlock()
		close(exited)
	}()
	return nil
}

func (ch *child) pid() int {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.cmd.Process.Pid
}

func (ch *child) state() (exited chan struct{}, err error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.exited, ch.err
}

// waitHealthy polls each service's /health and then the registry until every service is passing
// there too, so that "up" is printed only when the portal can really find grading.
func waitHealthy(ctx context.Context, children []*child, registryURL string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	ok := func(u string) bool {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		// The registry answers [] when nothing of that name is passing.
		return resp.StatusCode == http.StatusOK && strings.TrimSpace(string(b)) != "[]"
	}
	for _, ch := range children {
		for !ok("http://" + ch.listen + "/health") {
			if err := pause(ctx, ch); err != nil {
				return err
			}
		}
		queries := []string{""}
		if len(ch.tags) > 0 {
			queries = nil
			for _, tag := range ch.tags {
				queries = append(queries, "&tag="+url.QueryEscape(tag))
			}
		}
		for _, q := range queries {
			for !ok(registryURL + "/v1/health/service/" + url.PathEscape(ch.name) + "?passing=1" + q) {
				if err := pause(ctx, ch); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func pause(ctx context.Context, ch *child) error {
	exited, err := ch.state()
	select {
	case <-exited:
		return fmt.Errorf("%s exited during start-up: %v (its output is above)", ch.name, err)
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("%s did not turn healthy in time (listening on %s); its output is above", ch.name, ch.listen)
		}
		return ctx.Err()
	case <-time.After(100 * time.Millisecond):
		return nil
	}
}

// supervise reports services that exit on their own, restarting them when asked, until ctx ends.
func supervise(ctx context.Context, children []*child, self string, out *prefixer, stdout io.Writer, restart bool) {
	type exit struct {
		ch  *child
		err error
	}
	exits := make(chan exit)
	watch := func(ch *child) {
		exited, _ := ch.state()
		go func() {
			select {
			case <-exited:
				_, err := ch.state()
				select {
				case exits <- exit{ch, err}:
				case <-ctx.Done():
				}
			case <-ctx.Done():
			}
		}()
	}
	for _, ch := range children {
		watch(ch)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-exits:
			if !restart {
				fmt.Fprintf(stdout, "gradebook: %s exited (%v); the others keep running. Start it again with:\n  %s %s\n",
					e.ch.name, describeExit(e.err), self, strings.Join(e.ch.args, " "))
				continue
			}
			fmt.Fprintf(stdout, "gradebook: %s exited (%v); restarting it in 1s\n", e.ch.name, describeExit(e.err))
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			if err := e.ch.start(self, out); err != nil {
				fmt.Fprintf(stdout, "gradebook: %v\n", err)
				continue
			}
			fmt.Fprintf(stdout, "gradebook: restarted %s, pid %d\n", e.ch.name, e.ch.pid())
			watch(e.ch)
		}
	}
}

func describeExit(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// stopAll stops the services in reverse start-up order, so that the registry outlives the
// deregistrations and the log service receives the others' last entries. Each gets SIGTERM and
// a grace period before SIGKILL.
func stopAll(children []*child, stdout io.Writer) {
	for i := len(children) - 1; i >= 0; i-- {
		ch := children[i]
		exited, _ := ch.state()
		if exited == nil {
			continue
		}
		select {
		case <-exited:
			continue
		default:
		}
		_ = ch.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			fmt.Fprintf(stdout, "gradebook: %s did not stop in 15s; killing it\n", ch.name)
			_ = ch.cmd.Process.Kill()
			<-exited
		}
	}
	fmt.Fprintln(stdout, "gradebook: stopped")
}

// prefixer writes each child's output line by line, prefixed with its name.
type prefixer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *prefixer) writer(name string) *io.PipeWriter {
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			fmt.Fprintf(p.w, "%-8s | %s\n", name, sc.Text())
			p.mu.Unlock()
		}
		// A line over 1 MiB ends the scan; keep draining so the child never blocks on a write.
		_, _ = io.Copy(io.Discard, pr)
	}()
	return pw
}

// childEnv is the launcher's environment without the variables that name one service's identity
// or address: up sets those per child with flags, and an inherited GRADEBOOK_NAME or
// GRADEBOOK_ADVERTISE would otherwise give all four services the same one. The rest, such as
// GRADEBOOK_LOG_LEVEL, passes through.
func childEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GRADEBOOK_NAME", "GRADEBOOK_ADVERTISE", "GRADEBOOK_LISTEN", "GRADEBOOK_GRPC_LISTEN",
			"GRADEBOOK_DATA", "GRADEBOOK_FILE", "GRADEBOOK_REGISTRY", "CONSUL_HTTP_ADDR":
			continue
		}
		out = append(out, kv)
	}
	return out
}
