package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/gorilla/mux"
	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/pkg/config"
	"github.com/gradebook/gradebook/pkg/discovery"
	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/pkg/logx"
	"github.com/gradebook/gradebook/pkg/requestid"
	"github.com/gradebook/gradebook/pkg/telemetry"
	"github.com/gradebook/gradebook/pkg/tracing"
)

// ShutdownTimeout bounds the drain of in-flight requests.
const ShutdownTimeout = 10 * time.Second

// TraceFlushTimeout bounds how long a stopping service waits to export its last spans: a trace
// collector that is gone must not hold up a shutdown.
const TraceFlushTimeout = 3 * time.Second

// readyTimeout bounds the readiness check behind one GET /health, so that a check stuck on a
// sick dependency answers 503 while the health checker still listens (its own timeout is at
// most a second).
const readyTimeout = time.Second

// Runtime is what a running service shares with the plumbing: its configuration, logger, metrics,
// registry client and listener. Build it with New, add routes to Router, then call Serve.
type Runtime struct {
	Config  config.Common
	Logger  log.Logger
	Metrics *telemetry.Metrics
	Consul  *api.Client
	// Tracing is where the service's spans come from and go to; a no-op unless OTEL_* variables
	// (given with WithEnv) name a collector.
	Tracing *tracing.Tracing
	// Router is where the service adds its routes; /health and /metrics are already on it.
	Router *mux.Router
	// CrossOrigin refuses browsers' cross-origin writes to every route (403 with a JSON error).
	// A service may configure it before Serve: the portal answers its pages' refusals with a
	// page.
	CrossOrigin *http.CrossOriginProtection

	fanout         *logx.Fanout
	ln             net.Listener
	ready          atomic.Pointer[func(context.Context) error]
	draining       atomic.Bool
	mu             sync.Mutex
	closers        []func(context.Context) error
	instancers     map[string]stopper
	tags           []string
	meta           map[string]string
	registrar      sd.Registrar
	whenRegistered []func(context.Context)
	quiet          []string
	untraced       []string
	tokenOnly      []string
	jsonOnly       []string
	notJSON        map[[2]string]bool
	hosts          *httpx.HostAllowList

	// routesCheckToken turns the -token check off: the routes check it (RoutesCheckToken).
	routesCheckToken bool
}

// New validates cfg, builds the logger (logfmt on stderr) and the registry client, and binds the
// listener, so that the port is taken before anything is registered. Unless an option says
// otherwise, the registry client talks to cfg.Registry, and every entry logged is also shipped
// to the log service (a logclient.Shipper found through that registry, flushed at shutdown for
// at most LogFlushTimeout).
func New(cfg config.Common, stderr io.Writer, opts ...Option) (*Runtime, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// One lock for every writer of stderr: the logger and the shipper's own troubles share it.
	stderr = log.NewSyncWriter(stderr)
	logger, fan := logx.New(stderr, cfg.Name, cfg.LogLevel)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	// With -listen :0 the advertised port follows the one the kernel chose.
	if host, port, _ := net.SplitHostPort(cfg.Advertise); port == "0" {
		_, realPort, _ := net.SplitHostPort(ln.Addr().String())
		cfg.Advertise = net.JoinHostPort(host, realPort)
	}
	hosts, err := allowedHosts(cfg)
	if err != nil {
		return nil, errors.Join(err, ln.Close())
	}
	registryURL := cfg.Registry
	if o.selfRegistry {
		registryURL = "http://" + ln.Addr().String()
	}
	client, err := discovery.NewClient(registryURL, cfg.Token)
	if err != nil {
		return nil, errors.Join(err, ln.Close())
	}
	metrics := telemetry.New()
	tr, err := tracing.New(context.Background(), tracing.Config{
		Service: cfg.Name, Instance: cfg.Advertise, Getenv: o.getenv, Metrics: metrics,
		Logger: logger, Exporter: o.spanExporter,
	})
	if err != nil {
		return nil, errors.Join(err, ln.Close())
	}
	rt := &Runtime{
		Config:  cfg,
		Logger:  logger,
		Metrics: metrics,
		Tracing: tr,
		Consul:  client,
		Router:  httpx.NewRouter(),
		// One protection for the whole surface, so that no route can be left out of it.
		CrossOrigin: httpx.NewCrossOriginProtection(),
		fanout:      fan,
		hosts:       hosts,
	}
	rt.ln = rt.LimitListener(ln, "http")
	if o.getenv != nil {
		if dir := o.getenv(CPUProfileDirEnv); dir != "" {
			stop, err := StartCPUProfile(dir, cfg.Name)
			if err != nil {
				return nil, errors.Join(err, ln.Close())
			}
			// Added first, so run last: the profile covers the shutdown too.
			rt.OnClose(func(context.Context) error { stop(); return nil })
		}
	}
	rt.Router.Use(telemetry.RouteLabel, tracing.RouteName)
	// Flushed last of all (closers run in reverse order of adding), after the log shipper, so that
	// the spans of the last requests and of shutdown itself are sent.
	rt.OnClose(func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, TraceFlushTimeout)
		defer cancel()
		if err := tr.Shutdown(ctx); err != nil {
			level.Warn(logger).Log("msg", "spans not exported at shutdown", "err", err)
		}
		return nil
	})
	rt.Router.Handle("/health", http.HandlerFunc(rt.serveHealth)).Methods(http.MethodGet, http.MethodHead)
	rt.Router.Handle("/metrics", rt.Metrics.Handler()).Methods(http.MethodGet)
	if !o.noLogShipping {
		rt.shipLogs(stderr)
	}
	return rt, nil
}

// Addr is the address the listener is bound to.
func (rt *Runtime) Addr() string { return rt.ln.Addr().String() }

// URL is the service's advertised base URL.
func (rt *Runtime) URL() string { return "http://" + rt.Config.Advertise }

// SetReady installs the check behind /health: nil means the service can serve. f gets the
// request's context, bounded by a short timeout, so that a check that asks a dependency (a
// database, say) gives up when the health checker does.
func (rt *Runtime) SetReady(f func(ctx context.Context) error) { rt.ready.Store(&f) }

// AddLogSink sends every log entry to l as well as stderr; flush runs at shutdown.
func (rt *Runtime) AddLogSink(l log.Logger, flush func(context.Context) error) {
	rt.fanout.Add(l)
	if flush != nil {
		rt.OnClose(flush)
	}
}

// OnClose runs f at shutdown, after the HTTP server has drained, in reverse order of adding.
func (rt *Runtime) OnClose(f func(context.Context) error) {
	rt.mu.Lock()
	rt.closers = append(rt.closers, f)
	rt.mu.Unlock()
}

// Tag adds tags to the service's registration.
func (rt *Runtime) Tag(tags ...string) { rt.tags = append(rt.tags, tags...) }

// Meta adds a key to the service's registration metadata.
func (rt *Runtime) Meta(k, v string) {
	if rt.meta == nil {
		rt.meta = map[string]string{}
	}
	rt.meta[k] = v
}

// UntracedRoutes makes no server spans for requests whose path starts with one of prefixes (nor
// for /health and /metrics, which are never traced): the registry's blocking queries and the log
// service's incoming batches are plumbing that would drown the traces of real requests.
func (rt *Runtime) UntracedRoutes(prefixes ...string) {
	rt.untraced = append(rt.untraced, prefixes...)
}

// QuietRoutes logs successful requests whose path starts with one of prefixes at debug level
// instead of info: the registry's blocking queries and the log service's incoming batches would
// otherwise drown everything else (and, shipped, feed on themselves).
func (rt *Runtime) QuietRoutes(prefixes ...string) { rt.quiet = append(rt.quiet, prefixes...) }

// TokenOnlyUnder limits the -token check to writes whose path starts with one of prefixes. The
// portal uses it for its /api/ gateway: a teacher's browser cannot send a bearer token with a
// form post, and those posts are guarded by cross-origin protection instead.
func (rt *Runtime) TokenOnlyUnder(prefixes ...string) {
	rt.tokenOnly = append(rt.tokenOnly, prefixes...)
}

// RoutesCheckToken turns the runtime's -token check off, for a service whose routes check the
// token themselves: the portal's /api/v1 accepts the token or a signed-in teacher's session.
func (rt *Runtime) RoutesCheckToken() { rt.routesCheckToken = true }

// JSONOnlyUnder limits the rule that writes with a body must be JSON to paths that start with one
// of prefixes. The portal uses it for its /api/ gateway: its pages take HTML form posts, which
// cross-origin protection guards.
func (rt *Runtime) JSONOnlyUnder(prefixes ...string) {
	rt.jsonOnly = append(rt.jsonOnly, prefixes...)
}

// NotJSON exempts one route (method and exact path) from the rule that writes with a body must be
// JSON: the course protocol's text/plain routes, which the course's own services still call.
func (rt *Runtime) NotJSON(method, path string) {
	if rt.notJSON == nil {
		rt.notJSON = map[[2]string]bool{}
	}
	rt.notJSON[[2]string{method, path}] = true
}

// AllowHosts replaces the Host names the service answers to (421 to the rest), its defence
// against DNS rebinding; New starts from -allowed-hosts and the -listen and -advertise hosts.
func (rt *Runtime) AllowHosts(hosts *httpx.HostAllowList) { rt.hosts = hosts }

// bodyNeedNotBeJSON is the exemption from httpx.RequireJSON that JSONOnlyUnder and NotJSON set.
func (rt *Runtime) bodyNeedNotBeJSON(r *http.Request) bool {
	if rt.notJSON[[2]string{r.Method, r.URL.Path}] {
		return true
	}
	if len(rt.jsonOnly) == 0 {
		return false
	}
	for _, p := range rt.jsonOnly {
		if strings.HasPrefix(r.URL.Path, p) {
			return false
		}
	}
	return true
}

// SetRegistrar replaces the registrar Serve uses, for a service that registers itself some other
// way: the hub inserts its own registration into its catalog instead of calling itself over HTTP.
func (rt *Runtime) SetRegistrar(r sd.Registrar) { rt.registrar = r }

// Instancer returns the Instancer for the passing instances of name with tags, shared by every
// caller that asks for the same ones (one blocking query per dependency); Serve stops it.
func (rt *Runtime) Instancer(name string, tags ...string) *discovery.Instancer {
	return shared(rt, instancerKey("plain", name, tags), func() *discovery.Instancer {
		return discovery.NewInstancer(rt.Consul, name, tags, rt.Logger)
	})
}

// GroupedInstancer returns the GroupedInstancer for the passing instances of name with tags,
// grouped by their metadata under metaKey, shared as Instancer shares its Instancers; Serve
// stops it. It is how a service depends on one whose instances may hold different data.
func (rt *Runtime) GroupedInstancer(name, metaKey string, tags ...string) *discovery.GroupedInstancer {
	return shared(rt, instancerKey("grouped by "+metaKey, name, tags), func() *discovery.GroupedInstancer {
		return discovery.NewGroupedInstancer(rt.Consul, name, metaKey, tags, rt.Logger)
	})
}

// instancerKey tells the runtime's Instancers apart: kind first, so that no name or tags can make
// one kind's key another's.
func instancerKey(kind, name string, tags []string) string {
	return strings.Join(append([]string{kind, name}, tags...), "\x00")
}

// shared returns the instancer rt keeps under key, starting it on first use. A key is only ever
// asked for with one type, since its kind comes first.
func shared[T stopper](rt *Runtime, key string, start func() T) T {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if in, ok := rt.instancers[key]; ok {
		return in.(T)
	}
	in := start()
	if rt.instancers == nil {
		rt.instancers = map[string]stopper{}
	}
	rt.instancers[key] = in
	return in
}

// stopper is what the runtime does with its Instancers at the end.
type stopper interface{ Stop() }

// FailuresBeforeCritical is how many checks in a row must fail before the registry marks an
// instance critical (Consul's FailuresBeforeCritical, which the hub honours too). With one, a
// single check that timed out while the machine was saturated took a live instance out of every
// caller's balancer until the next check; with two, an instance that is really gone is still
// marked critical within two check intervals, as a refused connection fails each check at once.
const FailuresBeforeCritical = 2

// Registration is what Serve registers: the service with an HTTP check on /health that Consul
// and the hub both run, that marks it critical after FailuresBeforeCritical failures in a row,
// and that retires the instance after a minute of failing.
func (rt *Runtime) Registration() *api.AgentServiceRegistration {
	host, portStr, _ := net.SplitHostPort(rt.Config.Advertise)
	port, _ := strconv.Atoi(portStr)
	checks := api.AgentServiceChecks{{
		Name:                           "HTTP GET /health",
		HTTP:                           rt.URL() + "/health",
		Method:                         http.MethodGet,
		Interval:                       rt.Config.CheckInterval.String(),
		Timeout:                        checkTimeout(rt.Config.CheckInterval).String(),
		DeregisterCriticalServiceAfter: "1m",
		FailuresBeforeCritical:         FailuresBeforeCritical,
	}}
	return &api.AgentServiceRegistration{
		ID:      rt.Config.Name + "-" + host + "-" + portStr,
		Name:    rt.Config.Name,
		Address: host,
		Port:    port,
		Tags:    rt.tags,
		Meta:    rt.meta,
		Checks:  checks,
	}
}

func checkTimeout(interval time.Duration) time.Duration {
	if t := interval * 4 / 5; t < time.Second {
		return t
	}
	return time.Second
}

// Handler is the full HTTP surface: the router behind recovery, instrumentation, tracing (a
// server span unless UntracedRoutes says otherwise), request IDs and access logs. From the
// outside in, a request must carry a Host the service answers to (when
// AllowHosts was called: else 421), must not be a browser's cross-origin write (403), must carry
// -token if it writes (401), and, if it writes a body, must say it is JSON (415) unless
// JSONOnlyUnder or NotJSON exempt its route.
func (rt *Runtime) Handler() http.Handler {
	var h http.Handler = httpx.RequireJSON(rt.bodyNeedNotBeJSON, rt.Router)
	token := rt.Config.Token
	if rt.routesCheckToken {
		token = ""
	}
	if guarded := httpx.RequireTokenForWrites(token, h); len(rt.tokenOnly) == 0 {
		h = guarded
	} else {
		open := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for _, p := range rt.tokenOnly {
				if strings.HasPrefix(r.URL.Path, p) {
					guarded.ServeHTTP(w, r)
					return
				}
			}
			open.ServeHTTP(w, r)
		})
	}
	h = rt.CrossOrigin.Handler(h)
	if rt.hosts != nil {
		h = rt.hosts.Handler(h)
	}
	h = rt.accessLog(h)
	h = tracing.RecordRequestID(h)
	h = httpx.WithRequestIDs(h)
	h = rt.Tracing.Handler(h, rt.untraced...)
	h = rt.Metrics.Instrument(h)
	return httpx.Recover(func(r *http.Request, v any) {
		log.With(level.Error(rt.Logger), requestid.LogFields(r.Context())...).Log("msg", "handler panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
	}, h)
}

// Serve serves until ctx ends, registering in the background once the listener is up. Then it
// deregisters, drains in-flight requests (ShutdownTimeout), runs the OnClose functions (which
// flush the logs) and returns nil. An error means the server could not serve at all.
func (rt *Runtime) Serve(ctx context.Context) error {
	srv := rt.newServer(rt.Handler())
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(rt.ln) }()

	reg := rt.registrar
	if reg == nil {
		reg = discovery.NewRegistrar(rt.Consul, rt.Registration(), rt.Logger)
	}
	reg.Register()
	stopWhenRegistered := rt.startWhenRegistered(ctx, reg)
	begin := time.Now()
	if kB, done, err := releaseStartup(); err != nil {
		level.Warn(rt.Logger).Log("msg", "could not release start-up memory", "err", err)
	} else if done {
		level.Debug(rt.Logger).Log("msg", "released start-up memory", "executable_kB", kB, "took", time.Since(begin).Round(time.Microsecond))
	}
	level.Info(rt.Logger).Log("msg", "serving", "listen", rt.Addr(), "advertise", rt.Config.Advertise, "registry", rt.Config.Registry)

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	level.Info(rt.Logger).Log("msg", "shutting down")
	rt.draining.Store(true)
	stopWhenRegistered()
	reg.Deregister()
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		level.Warn(rt.Logger).Log("msg", "in-flight requests did not finish in time", "err", serr)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, rt.release(sctx))
}

// Close releases what New started (the listener, the log shipper, the Instancers) and runs the
// OnClose functions, for a service whose own set-up fails after New and so never calls Serve,
// which otherwise does all of this when it stops.
func (rt *Runtime) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	err := rt.ln.Close()
	return errors.Join(err, rt.release(ctx))
}

// release runs the OnClose functions, then stops the Instancers. Closers first: the log shipper's
// last flush still finds the log service through its Instancer.
func (rt *Runtime) release(ctx context.Context) error {
	rt.mu.Lock()
	instancers, closers := rt.instancers, rt.closers
	rt.instancers, rt.closers = nil, nil
	rt.mu.Unlock()
	var err error
	for i := len(closers) - 1; i >= 0; i-- {
		err = errors.Join(err, closers[i](ctx))
	}
	for _, in := range instancers {
		in.Stop()
	}
	return err
}

func (rt *Runtime) serveHealth(w http.ResponseWriter, r *http.Request) {
	if rt.draining.Load() {
		httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "critical", "error": "shutting down"})
		return
	}
	if f := rt.ready.Load(); f != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := (*f)(ctx); err != nil {
			httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "critical", "error": err.Error()})
			return
		}
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "passing"})
}

// accessLog logs every request once it is answered: at info, at error for a 5xx, and at debug
// for a quiet route's success. Every request pays for its line, so the line is built with one
// slice and one Log call, on level loggers made once rather than per request, and nothing in it
// is formatted twice.
func (rt *Runtime) accessLog(next http.Handler) http.Handler {
	info, errorLevel, debug := level.Info(rt.Logger), level.Error(rt.Logger), level.Debug(rt.Logger)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		begin := time.Now()
		sw := httpx.NewStatusWriter(w)
		next.ServeHTTP(sw, r)
		quiet := r.URL.Path == "/health" || r.URL.Path == "/metrics"
		for _, p := range rt.quiet {
			quiet = quiet || strings.HasPrefix(r.URL.Path, p)
		}
		lg := info
		switch {
		case sw.Status >= 500:
			lg = errorLevel
		case quiet && sw.Status < 400:
			lg = debug
		}
		// took is formatted here, once: as a time.Duration, the stderr line and the shipped entry
		// would each format it, and both write exactly this text.
		kv := requestid.AppendLogFields(make([]any, 0, 16), r.Context())
		kv = append(kv, "msg", "request", "method", r.Method, "path", r.URL.Path, "status", sw.Status,
			"took", time.Since(begin).Round(time.Microsecond).String())
		lg.Log(kv...)
	})
}

// allowedHosts is the Host allow-list of cfg, against DNS rebinding: -allowed-hosts, and the hosts
// of -listen and -advertise, which are names the service is known by (the registry's health
// checks and the other services dial the advertised one), with any port, since a container's
// published port is not the one it listens on. IP addresses and localhost are always allowed.
func allowedHosts(cfg config.Common) (*httpx.HostAllowList, error) {
	entries := strings.Split(cfg.AllowedHosts, ",")
	if _, err := httpx.NewHostAllowList(entries...); err != nil {
		return nil, fmt.Errorf("-allowed-hosts: %w", err)
	}
	// A host that is not a name is left out here, for -listen or -advertise to report it.
	for _, addr := range []string{cfg.Listen, cfg.Advertise} {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			if _, err := httpx.NewHostAllowList(host); err == nil {
				entries = append(entries, host)
			}
		}
	}
	return httpx.NewHostAllowList(entries...)
}
