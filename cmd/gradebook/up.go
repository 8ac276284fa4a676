package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
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
	"github.com/gradebook/gradebook/internal/jaeger"
	"github.com/gradebook/gradebook/internal/prometheus"
	"github.com/gradebook/gradebook/logging"
	"github.com/gradebook/gradebook/pkg/config"
	"github.com/gradebook/gradebook/portal"
	"github.com/gradebook/gradebook/portal/auth"
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
	gradingInstances int // 0 is read as 1, the flag's default
	store            string
	users            string // the portal's -users file; empty leaves it open
	sessionKeyFile   string // the portal's -session-key-file; made under -data when empty
	open             bool   // the portal's -open
	tracing          bool   // start Jaeger first and point every service at it
	jaegerBin        string // the Jaeger binary to run; with -tracing and none given, built from tools/jaeger
	monitoring       bool   // start Prometheus last, scraping every service through the registry
	prometheusBin    string // the Prometheus binary to run; with -monitoring and none given, built from tools/prometheus
}

// instances is how many grading instances to start.
func (c upConfig) instances() int { return max(c.gradingInstances, 1) }

// child is one service process that up supervises.
type child struct {
	name    string // the process's name in up's output: the service's, or grading-2, grading-3, …
	service string // the service it runs: its command and registered name
	listen  string
	args    []string
	env     []envVar     // set in its environment on top of up's own
	links   []string     // what to print once everything is up
	regs    []registered // each registration it makes
	health  string       // the path that answers 200 once it serves: /health unless set
	also    []string     // addresses it listens on besides listen and a -grpc-listen

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// envVar is a variable up sets in a child's environment. shown is its value as up prints it, and
// hidden says whether shown hides a password.
type envVar struct {
	name, value, shown string
	hidden             bool
}

// registered is one registration a child makes: its tag (none: untagged) and the address it
// advertises, by which up tells it from other instances of the same service.
type registered struct{ tag, addr string }

func up(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gradebook up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c upConfig
	httpPort, grpcPort := gradingPorts()
	fs.StringVar(&c.registry, "registry", "", "use the registry (or Consul agent) at this `URL` instead of starting the built-in hub, e.g. http://127.0.0.1:8500")
	fs.StringVar(&c.data, "data", "data", "`directory` under which each service keeps its state (data/registry, data/log, data/grading, data/grading-2, …)")
	fs.StringVar(&c.token, "token", "", "shared `secret` handed to every service (-token)")
	fs.StringVar(&c.host, "host", "127.0.0.1", "`address` every service listens on")
	fs.IntVar(&c.portOffset, "port-offset", 0, "add `N` to every default port ("+defaultPorts()+"), to run beside another copy")
	fs.StringVar(&c.gradingTransport, "grading-transport", "http", "how the portal calls grading: http or grpc")
	fs.DurationVar(&c.checkInterval, "check-interval", time.Second, "how often the registry checks each service")
	fs.BoolVar(&c.restart, "restart", false, "restart a service that exits on its own (after a kill -9, say); each grading instance on its own")
	fs.DurationVar(&c.startTimeout, "start-timeout", time.Minute, "how long to wait for every service to turn healthy")
	fs.IntVar(&c.gradingInstances, "grading-instances", 1, fmt.Sprintf("run `N` grading instances; instance k listens on HTTP %d+%d(k-1) and gRPC %d+%d(k-1); more than one needs -store postgres://…",
		httpPort, gradingPortStride, grpcPort, gradingPortStride))
	fs.StringVar(&c.store, "store", "", "grading's store, handed to every grading instance: empty or bolt for a bbolt file under its -data, or a postgres:// or postgresql:// `URL`")
	fs.StringVar(&c.users, "users", "", "the portal's users `file` (name:hash lines, made with: gradebook user hash NAME): teachers sign in; without it the portal is open to anyone who reaches it")
	fs.StringVar(&c.sessionKeyFile, "session-key-file", "", "the portal's session key `file`; with -users and none given, <data>/portal/session.key, made if missing")
	fs.BoolVar(&c.open, "open", false, "let the portal serve without -users on a non-loopback -host")
	fs.BoolVar(&c.tracing, "tracing", false, fmt.Sprintf("start Jaeger (traces in memory; UI on %d, OTLP on %d and %d, each moved by -port-offset) before the services, and have every service export its traces to it",
		jaeger.DefaultUIPort, jaeger.DefaultOTLPGRPCPort, jaeger.DefaultOTLPHTTPPort))
	fs.StringVar(&c.jaegerBin, "jaeger-bin", "", "with -tracing, run this Jaeger `binary` instead of the one built from tools/jaeger (built once, then cached)")
	fs.BoolVar(&c.monitoring, "monitoring", false, fmt.Sprintf("start Prometheus (API on %d, moved by -port-offset) after the services, discovering and scraping each of them through the registry",
		prometheus.DefaultPort))
	fs.StringVar(&c.prometheusBin, "prometheus-bin", "", "with -monitoring, run this Prometheus `binary` instead of the one built from tools/prometheus (built once, then cached)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: gradebook up [flags]

Starts the registry, log, grading and portal services, each as its own process from this binary,
prefixes their output with their names, waits until all are healthy, and prints where to look.
Ctrl-C (or SIGTERM, or SIGHUP) stops them all cleanly. Flags also read GRADEBOOK_<FLAG>
variables, and -registry and -token read CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN.

Grading runs as -grading-instances processes, named grading, grading-2, grading-3, …, all
registered as grading. Instance k (counting from 1) listens on HTTP port %d+%d(k-1) and gRPC
port %d+%d(k-1), each moved by -port-offset, and keeps its state in <data>/grading for k=1 and
<data>/grading-k after that. Instances with separate bbolt files would hold different data, so
more than one needs -store postgres://… (one database that all of them share). The store URL
reaches the instances through their GRADEBOOK_STORE variable, never their command lines, and up
prints it with its password hidden; set GRADEBOOK_STORE rather than -store to keep the password
off up's own command line too.

With -tracing, up first builds Jaeger from tools/jaeger (minutes the first time, then cached; run
it from the gradebook source tree, or give -jaeger-bin), starts it as a process named jaeger
before the services and stops it after them, sets OTEL_EXPORTER_OTLP_ENDPOINT and
OTEL_EXPORTER_OTLP_PROTOCOL in every service's environment, and gives the portal Jaeger's UI
(GRADEBOOK_TRACING_UI) for the links on /status. Without it, OTEL_* variables in up's own
environment reach every service unchanged.

With -monitoring, up builds Prometheus from tools/prometheus (many minutes the first time, then
cached; or give -prometheus-bin) and starts it as a process named prometheus after the services
and stops it before them, so that it records no shutdown as an outage. It discovers every service
through the registry (the hub, or -registry) and scrapes each HTTP instance's /metrics every 5s;
its configuration and storage are under <data>/prometheus.

Flags:
`, httpPort, gradingPortStride, grpcPort, gradingPortStride)
		fs.PrintDefaults()
	}
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("up takes no arguments, got %q", fs.Args())
	}
	if c.gradingInstances < 1 {
		return fmt.Errorf("-grading-instances %d: want 1 or more", c.gradingInstances)
	}
	if c.registry != "" {
		u, err := config.NormalizeURL(c.registry)
		if err != nil {
			return fmt.Errorf("-registry: %w", err)
		}
		c.registry = u
	}
	if c.users != "" && c.sessionKeyFile == "" {
		key, err := ensureSessionKey(c.data)
		if err != nil {
			return err
		}
		c.sessionKeyFile = key
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program to start the services: %w", err)
	}
	if c.tracing && c.jaegerBin == "" {
		if c.jaegerBin, err = buildTool(ctx, stdout, stderr, jaeger.Tool); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("-tracing (or give -jaeger-bin): %w", err)
		}
	}
	if c.monitoring && c.prometheusBin == "" {
		if c.prometheusBin, err = buildTool(ctx, stdout, stderr, prometheus.Tool); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("-monitoring (or give -prometheus-bin): %w", err)
		}
	}
	children, err := plan(c)
	if err != nil {
		return err
	}
	if err := checkPortsFree(children); err != nil {
		return err
	}
	width := nameWidth(children)
	out := &prefixer{w: stdout, width: width}
	fmt.Fprintf(stdout, "gradebook: starting %d processes (data in %s", len(children), c.data)
	if c.store != "" {
		shown, _ := redactStore(c.store)
		fmt.Fprintf(stdout, ", grading's store %s", shown)
	}
	fmt.Fprintln(stdout, ")")
	for _, ch := range children {
		if err := ch.start(self, out); err != nil {
			stopAll(children, stdout)
			return err
		}
		fmt.Fprintf(stdout, "gradebook: started %-*s pid %d, listening on %s\n", width, ch.name, ch.pid(), ch.listen)
	}
	registryURL := c.registry
	if registryURL == "" {
		hub := slices.IndexFunc(children, func(ch *child) bool { return ch.service == registry.DefaultName })
		registryURL = "http://" + children[hub].listen
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
			fmt.Fprintf(stdout, "  %-*s %s\n", width+1, ch.name, l)
		}
	}
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")

	supervise(ctx, children, self, out, stdout, c.restart)
	stopAll(children, stdout)
	return nil
}

// nameWidth is the width of the longest process name, and at least that of "registry", so that
// up's output lines up.
func nameWidth(children []*child) int {
	w := len(registry.DefaultName)
	for _, ch := range children {
		w = max(w, len(ch.name))
	}
	return w
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

// gradingPortStride is how far apart consecutive grading instances' ports are: one port for each
// of grading's two listeners, so that instance k+1 starts where instance k ends.
const gradingPortStride = 2

// instanceName is grading instance k's name in up's output and its data directory: the service's
// own name for the first, so that one instance keeps the path it always had.
func instanceName(service string, k int) string {
	if k == 1 {
		return service
	}
	return service + "-" + strconv.Itoa(k)
}

// gradingPorts are grading's default HTTP and gRPC ports, for the usage text.
func gradingPorts() (httpPort, grpcPort int) {
	for _, d := range listenDefaults() {
		if d.service != gradingserver.DefaultName {
			continue
		}
		p, _ := defaultPort(d)
		switch d.flag {
		case "-listen":
			httpPort = p
		case "-grpc-listen":
			grpcPort = p
		}
	}
	return httpPort, grpcPort
}

// addrKey names an address up gives: a process (grading-2, say) and one of its flags.
type addrKey struct{ process, flag string }

// addrs are the addresses up gives the processes, by process and flag.
type addrs map[addrKey]string

// placeAddrs moves every address of defaults to host, its port by offset. Grading's rows are
// repeated for each of its instances, instance k's ports a further gradingPortStride(k-1) up.
// Every port must stay within 1-65535 and belong to one process only.
func placeAddrs(defaults []listenAddr, host string, offset, instances int) (addrs, error) {
	out := addrs{}
	owner := map[int]string{} // port: which process's flag has it
	for _, d := range defaults {
		port, err := defaultPort(d)
		if err != nil {
			return nil, err
		}
		n := 1
		if d.service == gradingserver.DefaultName {
			n = instances
		}
		for k := 1; k <= n; k++ {
			name := instanceName(d.service, k)
			moved := port + offset + gradingPortStride*(k-1)
			if moved < 1 || moved > 65535 {
				if k == 1 {
					return nil, fmt.Errorf("-port-offset %d moves %s's %s port %d to %d, outside 1-65535", offset, d.service, d.flag, port, moved)
				}
				return nil, fmt.Errorf("-grading-instances %d puts %s's %s port at %d (with -port-offset %d), outside 1-65535", instances, name, d.flag, moved, offset)
			}
			what := name + "'s " + d.flag
			if other, taken := owner[moved]; taken {
				return nil, fmt.Errorf("-grading-instances %d: %s and %s would both listen on port %d", instances, other, what, moved)
			}
			owner[moved] = what
			out[addrKey{name, d.flag}] = net.JoinHostPort(host, strconv.Itoa(moved))
		}
	}
	return out, nil
}

// of is the address of the process's flag. The names come from listenDefaults, so a missing one
// is a mistake in this file, not in the user's input.
func (a addrs) of(process, flag string) string {
	addr, ok := a[addrKey{process, flag}]
	if !ok {
		panic(fmt.Sprintf("gradebook up: no address for %s %s in listenDefaults", process, flag))
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

// checkStore checks -store and -grading-instances together. Its errors never quote the store
// URL, which may hold a password.
func checkStore(c upConfig) error {
	shared := false
	switch c.store {
	case "", "bolt":
	default:
		u, err := url.Parse(c.store)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return errors.New("-store: want bolt, or a postgres:// or postgresql:// URL")
		}
		shared = true
	}
	if c.instances() > 1 && !shared {
		return fmt.Errorf("-grading-instances %d needs -store postgres://…: grading instances with separate bbolt files would each hold different data", c.instances())
	}
	return nil
}

// redactStore is the store URL as up prints it: a password in its user information or in a
// password parameter reads xxxxx, and hidden says whether there was one. Anything that is not a
// URL is hidden whole.
func redactStore(store string) (shown string, hidden bool) {
	if store == "" || store == "bolt" {
		return store, false
	}
	u, err := url.Parse(store)
	if err != nil {
		return "(hidden)", true
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
		hidden = true
	}
	if _, ok := u.User.Password(); ok {
		hidden = true
	}
	return u.Redacted(), hidden
}

// argv builds a child's command line by flag name. Flags keep the order in which they were first
// set, and setting one again replaces its value, so that no flag is ever given twice and nothing
// depends on where in the list a flag landed.
type argv struct {
	cmd    string
	flags  []string
	values map[string]string
}

func newArgv(cmd string) *argv {
	return &argv{cmd: cmd, values: map[string]string{}}
}

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
// checkPortsFree refuses to start when an address a child would listen on is taken, most likely
// by a gradebook that is already running: its services would answer up's readiness checks, and
// up would report a system that is half someone else's.
func checkPortsFree(children []*child) error {
	var taken []string
	for _, ch := range children {
		for _, addr := range ch.listenAddrs() {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				taken = append(taken, fmt.Sprintf("%s (%s)", addr, ch.name))
				continue
			}
			ln.Close()
		}
	}
	if len(taken) > 0 {
		return fmt.Errorf("these addresses are in use: %s; is gradebook already running? Stop it, or run this one beside it with -port-offset",
			strings.Join(taken, ", "))
	}
	return nil
}

// listenAddrs are the addresses the child will listen on: -listen, grading's -grpc-listen, and
// any others it was planned with.
func (ch *child) listenAddrs() []string {
	out := append([]string{ch.listen}, ch.also...)
	for i := 0; i+1 < len(ch.args); i++ {
		if ch.args[i] == "-grpc-listen" {
			out = append(out, ch.args[i+1])
		}
	}
	return out
}

func plan(c upConfig) ([]*child, error) {
	if err := checkStore(c); err != nil {
		return nil, err
	}
	at, err := placeAddrs(listenDefaults(), c.host, c.portOffset, c.instances())
	if err != nil {
		return nil, err
	}
	registryURL := c.registry
	if registryURL == "" {
		registryURL = "http://" + at.of(registry.DefaultName, "-listen")
	}
	// newChild is a child with the flags every service takes; the registry itself is the only
	// one not told where the registry is.
	newChild := func(service, name string) (*child, *argv) {
		ch := &child{name: name, service: service, listen: at.of(name, "-listen")}
		ch.regs = []registered{{"", ch.listen}}
		a := newArgv(service).
			set("-listen", ch.listen).
			set("-data", filepath.Join(c.data, name)).
			set("-check-interval", c.checkInterval.String())
		if c.token != "" {
			a.set("-token", c.token)
		}
		if service != registry.DefaultName {
			a.set("-registry", registryURL)
		}
		return ch, a
	}
	var out []*child
	var tracer *child
	if c.tracing {
		if tracer, err = planJaeger(c, at); err != nil {
			return nil, err
		}
		out = append(out, tracer)
	}
	if c.registry == "" {
		hub, a := newChild(registry.DefaultName, registry.DefaultName)
		hub.args = a.list()
		hub.links = []string{"http://" + hub.listen + "/   (services and their health)"}
		out = append(out, hub)
	}

	lg, a := newChild(logging.DefaultName, logging.DefaultName)
	lg.args = a.list()
	lg.links = []string{"http://" + lg.listen + "/v1/logs"}
	out = append(out, lg)

	for k := 1; k <= c.instances(); k++ {
		name := instanceName(gradingserver.DefaultName, k)
		gr, a := newChild(gradingserver.DefaultName, name)
		grpcListen := at.of(name, "-grpc-listen")
		a.set("-grpc-listen", grpcListen)
		gr.args = a.list()
		// The store URL may hold a password: it goes through the environment, where ps does not
		// show it to other users, rather than the command line.
		if c.store != "" {
			shown, hidden := redactStore(c.store)
			gr.env = []envVar{{config.EnvName("store"), c.store, shown, hidden}}
		}
		gr.links = []string{"http://" + gr.listen + "/students", "grpc://" + grpcListen + "  (gRPC: gradebook.grading.v1.Grading)"}
		// Grading registers its HTTP and its gRPC endpoint separately; both must pass.
		gr.regs = []registered{{"http", gr.listen}, {"grpc", grpcListen}}
		out = append(out, gr)
	}

	po, a := newChild(portal.DefaultName, portal.DefaultName)
	a.set("-grading-transport", c.gradingTransport)
	if c.users != "" {
		a.set("-users", c.users).set("-session-key-file", c.sessionKeyFile)
	}
	po.args = a.list()
	if c.open {
		// A flag without a value does not fit argv's pairs; the variable says the same.
		po.env = []envVar{{name: config.EnvName("open"), value: "true", shown: "true"}}
	}
	po.links = []string{"http://" + po.listen + "/   (the teacher portal)", "http://" + po.listen + "/status"}
	out = append(out, po)

	if tracer != nil {
		addrs := jaegerAddrs(c)
		for _, ch := range out[1:] {
			ch.env = append(ch.env,
				envVar{name: "OTEL_EXPORTER_OTLP_ENDPOINT", value: addrs.OTLPHTTPEndpoint(), shown: addrs.OTLPHTTPEndpoint()},
				envVar{name: "OTEL_EXPORTER_OTLP_PROTOCOL", value: "http/protobuf", shown: "http/protobuf"})
		}
		po.env = append(po.env, envVar{name: config.EnvName("tracing-ui"), value: addrs.UIURL(), shown: addrs.UIURL()})
	}
	// Prometheus starts last and so stops first: it never sees the services go away as an outage.
	if c.monitoring {
		mon, err := planPrometheus(c, at, registryURL)
		if err != nil {
			return nil, err
		}
		out = append(out, mon)
	}
	return out, nil
}

// prometheusScrapeInterval is how often up's Prometheus scrapes each instance and asks the
// registry for changes: short, so that a new instance shows within seconds.
const prometheusScrapeInterval = 5 * time.Second

// prometheusAddr is where up's Prometheus listens: its own port on -host, moved by -port-offset.
func prometheusAddr(c upConfig) (string, error) {
	port := prometheus.DefaultPort + c.portOffset
	if port < 1 || port > 65535 {
		return "", fmt.Errorf("-port-offset %d moves Prometheus's port to %d, outside 1-65535", c.portOffset, port)
	}
	return prometheus.Addr(c.host, port), nil
}

// planPrometheus is the process that runs Prometheus for -monitoring: "gradebook prometheus" on
// up's Prometheus address, discovering the services through registryURL, its configuration and
// storage under <data>/prometheus. It registers nothing; it is ready once /-/ready answers. Its
// port must be clear of every service's and of Jaeger's.
func planPrometheus(c upConfig, at addrs, registryURL string) (*child, error) {
	listen, err := prometheusAddr(c)
	if err != nil {
		return nil, err
	}
	taken := map[string]bool{}
	for _, addr := range at {
		taken[addr] = true
	}
	if c.tracing {
		for _, addr := range jaegerAddrs(c).Listens() {
			taken[addr] = true
		}
	}
	if taken[listen] {
		return nil, fmt.Errorf("-monitoring: Prometheus and another process would both listen on %s", listen)
	}
	const name = "prometheus"
	ch := &child{name: name, service: name, listen: listen, health: "/-/ready"}
	_, port, _ := net.SplitHostPort(listen)
	ch.args = newArgv(name).
		set("-bin", c.prometheusBin).
		set("-registry", registryURL).
		set("-host", c.host).
		set("-port", port).
		set("-data", filepath.Join(c.data, name)).
		set("-scrape-interval", prometheusScrapeInterval.String()).
		set("-log-level", "warn").
		list()
	if c.token != "" {
		// A Consul agent with ACLs wants it from Prometheus too. Through the environment, where ps
		// does not show it; up's "start it again" line shows xxxxx in its place.
		ch.env = []envVar{{name: config.EnvName("token"), value: c.token, shown: "xxxxx", hidden: true}}
	}
	ch.links = []string{"http://" + listen + "/api/v1/targets   (Prometheus: its API; no UI in this build)"}
	return ch, nil
}

// jaegerAddrs are where up's Jaeger listens: Jaeger's own ports on -host, moved by -port-offset.
func jaegerAddrs(c upConfig) jaeger.Addrs {
	return jaeger.DefaultAddrs(c.host).Offset(c.portOffset)
}

// planJaeger is the process that runs Jaeger for -tracing: "gradebook jaeger" on up's Jaeger
// addresses, its configuration under <data>/jaeger. It registers nothing; it is ready once its
// query API answers. Its ports must be in range and clear of every service's.
func planJaeger(c upConfig, at addrs) (*child, error) {
	a := jaegerAddrs(c)
	taken := map[string]bool{}
	for _, addr := range at {
		taken[addr] = true
	}
	for _, port := range []int{a.UI, a.QueryGRPC, a.OTLPGRPC, a.OTLPHTTP} {
		if port < 1 || port > 65535 {
			return nil, fmt.Errorf("-port-offset %d moves a Jaeger port to %d, outside 1-65535", c.portOffset, port)
		}
		if addr := net.JoinHostPort(c.host, strconv.Itoa(port)); taken[addr] {
			return nil, fmt.Errorf("-tracing: Jaeger and a service would both listen on %s", addr)
		}
	}
	const name = "jaeger"
	ch := &child{name: name, service: name, listen: net.JoinHostPort(a.Host, strconv.Itoa(a.UI)), health: "/api/services"}
	for _, addr := range a.Listens() {
		if addr != ch.listen {
			ch.also = append(ch.also, addr)
		}
	}
	slices.Sort(ch.also)
	ch.args = newArgv(name).
		set("-bin", c.jaegerBin).
		set("-host", a.Host).
		set("-ui-port", strconv.Itoa(a.UI)).
		set("-query-grpc-port", strconv.Itoa(a.QueryGRPC)).
		set("-otlp-grpc-port", strconv.Itoa(a.OTLPGRPC)).
		set("-otlp-http-port", strconv.Itoa(a.OTLPHTTP)).
		set("-data", filepath.Join(c.data, name)).
		set("-log-level", "warn").
		list()
	ch.links = []string{a.UIURL() + "/   (Jaeger: traces)", a.OTLPHTTPEndpoint() + "  (OTLP/HTTP; OTLP/gRPC at " + a.OTLPGRPCEndpoint() + ")"}
	return ch, nil
}

// ensureSessionKey is the portal's session key file under data, made now if it is missing: the
// one key every portal instance of this data folder shares, kept across restarts so that
// sessions outlive them.
func ensureSessionKey(data string) (string, error) {
	path := filepath.Join(data, portal.DefaultName, "session.key")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := auth.NewKeyFile(path); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	return path, nil
}

// commandLine is how a user starts the child again by hand: its environment variables (with a
// password hidden), this program, and the child's arguments, quoted for a POSIX shell.
func (ch *child) commandLine(self string) string {
	var words []string
	for _, e := range ch.env {
		words = append(words, e.name+"="+shellQuote(e.shown))
	}
	words = append(words, shellQuote(self))
	for _, a := range ch.args {
		words = append(words, shellQuote(a))
	}
	return strings.Join(words, " ")
}

// shellQuote quotes s for a POSIX shell when it holds anything but the characters that need no
// quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (ch *child) start(self string, out *prefixer) error {
	cmd := exec.Command(self, ch.args...)
	cmd.Stdin = nil
	w, relayed, err := out.pipe(ch.name)
	if err != nil {
		return fmt.Errorf("start %s: %w", ch.name, err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	// Each child gets its own process group, so that the terminal's Ctrl-C reaches only the
	// launcher, which then stops the children in order.
	// Pdeathsig stops the child should the launcher die without stopping it (SIGKILL, a crash),
	// so that no orphan keeps the ports and a dead pipe for its output.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Env = childEnv(os.Environ())
	for _, e := range ch.env {
		cmd.Env = append(cmd.Env, e.name+"="+e.value)
	}
	err = cmd.Start()
	// The child has its own copy of the pipe's write end; once it (and whatever it started)
	// has exited, the relay reads the end of its output.
	_ = w.Close()
	if err != nil {
		<-relayed
		return fmt.Errorf("start %s: %w", ch.name, err)
	}
	exited := make(chan struct{})
	ch.mu.Lock()
	ch.cmd, ch.exited, ch.err = cmd, exited, nil
	ch.mu.Unlock()
	go func() {
		err := cmd.Wait()
		// As when exec copied the output itself: the child counts as exited once its last
		// line is out.
		<-relayed
		ch.mu.Lock()
		ch.err = err
		ch.mu.Unlock()
		close(exited)
	}()
	return nil
}

// hidesSecret reports whether the child's command line, as up prints it, hides a password.
func (ch *child) hidesSecret() bool {
	for _, e := range ch.env {
		if e.hidden {
			return true
		}
	}
	return false
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

// waitHealthy polls each process's /health and then the registry until each of its registrations
// is passing there too, so that "up" is printed only when the portal can really find every grading
// instance.
func waitHealthy(ctx context.Context, children []*child, registryURL string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	get := func(u string) ([]byte, bool) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := client.Do(req)
		if err != nil {
			return nil, false
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		return b, err == nil && resp.StatusCode == http.StatusOK
	}
	for _, ch := range children {
		for {
			health := ch.health
			if health == "" {
				health = "/health"
			}
			if _, ok := get("http://" + ch.listen + health); ok {
				break
			}
			if err := pause(ctx, ch); err != nil {
				return err
			}
		}
		for _, r := range ch.regs {
			q := registryURL + "/v1/health/service/" + url.PathEscape(ch.service) + "?passing=1"
			if r.tag != "" {
				q += "&tag=" + url.QueryEscape(r.tag)
			}
			for {
				if b, ok := get(q); ok && passingAt(b, r.addr) {
					break
				}
				if err := pause(ctx, ch); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// passingAt reports whether the registry's answer to a passing-only health query lists an
// instance that advertises addr: this process's registration, not another instance's.
func passingAt(answer []byte, addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	var entries []struct {
		Service struct {
			Address string
			Port    int
		}
	}
	if json.Unmarshal(answer, &entries) != nil {
		return false
	}
	for _, e := range entries {
		if e.Service.Address == host && strconv.Itoa(e.Service.Port) == port {
			return true
		}
	}
	return false
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
				fmt.Fprintf(stdout, "gradebook: %s exited (%v); the others keep running. Start it again with:\n  %s\n",
					e.ch.name, describeExit(e.err), e.ch.commandLine(self))
				if e.ch.hidesSecret() {
					fmt.Fprintln(stdout, "  (with the password in place of xxxxx)")
				}
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

// prefixer writes each child's output line by line, prefixed with its name padded to width.
// Every service logs each request on its stderr, so the relay is on every request's path: it
// reads a child's pipe in large chunks, prefixes the chunk's complete lines into one reused
// buffer and writes them with one Write, holding the lock that keeps two children's lines from
// interleaving only for that Write.
type prefixer struct {
	mu    sync.Mutex
	w     io.Writer
	width int
}

const (
	// relayRead is the size of a relay's read buffer, and of each read.
	relayRead = 64 << 10
	// relayLineMax bounds what a relay holds of one line: a line up to this long is passed on
	// whole; a longer one is passed on in pieces of this size, each a line of its own with the
	// child's prefix.
	relayLineMax = 1 << 20
)

// pipe returns the write end of a pipe to give a child as its stdout and stderr, and a channel
// closed once everything written to it has been relayed: after the caller has closed its own
// copy of w, and the child and whatever inherited the pipe from it have exited.
func (p *prefixer) pipe(name string) (w *os.File, relayed <-chan struct{}, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer r.Close()
		p.relay(name, r)
	}()
	return w, done, nil
}

// relay copies r to p.w until r ends, each line prefixed with name. A last line without a
// newline gets one. It never stops reading before r ends, so that the child never blocks on a
// write.
func (p *prefixer) relay(name string, r io.Reader) {
	prefix := fmt.Appendf(nil, "%-*s | ", p.width, name)
	buf := make([]byte, 0, relayRead)
	var out []byte
	for {
		if len(buf) == cap(buf) {
			// One unfinished line fills the buffer: make room for more of it, up to the bound.
			buf = append(make([]byte, 0, min(2*cap(buf), relayLineMax)), buf...)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		out = out[:0]
		rest := buf
		for {
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				break
			}
			line := rest[:i]
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			out = append(append(append(out, prefix...), line...), '\n')
			rest = rest[i+1:]
		}
		if len(rest) >= relayLineMax || (err != nil && len(rest) > 0) {
			out = append(append(append(out, prefix...), rest...), '\n')
			rest = rest[len(rest):]
		}
		if len(out) > 0 {
			p.mu.Lock()
			_, _ = p.w.Write(out)
			p.mu.Unlock()
		}
		buf = buf[:copy(buf, rest)]
		if cap(buf) > relayRead && len(buf) < relayRead {
			// The long line is out: give its buffer back.
			buf = append(make([]byte, 0, relayRead), buf...)
		}
		if cap(out) > 4*relayLineMax {
			out = nil
		}
		if err != nil {
			return
		}
	}
}

// childEnv is the launcher's environment without the variables that name one service's identity
// or address: up sets those per child with flags, and an inherited GRADEBOOK_NAME or
// GRADEBOOK_ADVERTISE would otherwise give all four services the same one. GRADEBOOK_STORE goes
// too: up sets it for grading alone, to its own -store. The rest, such as GRADEBOOK_LOG_LEVEL,
// passes through.
func childEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GRADEBOOK_NAME", "GRADEBOOK_ADVERTISE", "GRADEBOOK_LISTEN", "GRADEBOOK_GRPC_LISTEN",
			"GRADEBOOK_DATA", "GRADEBOOK_FILE", "GRADEBOOK_REGISTRY", "GRADEBOOK_STORE", "CONSUL_HTTP_ADDR":
			continue
		}
		out = append(out, kv)
	}
	return out
}
