package registry

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/gradebook/gradebook/pkg/config"
	"github.com/gradebook/gradebook/pkg/service"
	"github.com/gradebook/gradebook/pkg/text"
)

// Defaults of the hub's command line.
const (
	DefaultListen            = "127.0.0.1:3000"
	DefaultName              = "registry"
	DefaultHeartbeatInterval = 3 * time.Second
)

// GCPercent is the GOGC that the hub's programs set when GOGC is not set; cmd/registryservice
// says why. It is theirs to set, not Run's: it holds for the whole process.
const GCPercent = 400

// Config is the hub's configuration: the flags every service takes, and its own.
type Config struct {
	config.Common
	// HeartbeatInterval is how often course-protocol services' HeartbeatURLs are checked.
	HeartbeatInterval time.Duration
	// Getenv is the environment the hub was started with, for its OTEL_* variables; nil traces
	// nothing.
	Getenv func(string) string
}

// NewConfig parses the hub's command line (and GRADEBOOK_* variables) into a Config. It returns
// flag.ErrHelp for -h, after printing the usage to stderr.
func NewConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	cfg := Config{Getenv: getenv}
	fs := flag.NewFlagSet("registryservice", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: registryservice [flags]

The gradebook registry: a Consul-compatible hub. Services register with it through the Consul
HTTP API (or the course's original POST /services), it runs their health checks, and it tells dependents
which instances are passing. Its status page is at / and its catalog is kept under -data.
The -registry flag is ignored: the hub is the registry, and registers itself in its own catalog.

Flags:
`)
		fs.PrintDefaults()
	}
	cfg.Bind(fs, config.Defaults{Listen: DefaultListen, Name: DefaultName, Data: filepath.Join("data", DefaultName)})
	fs.DurationVar(&cfg.HeartbeatInterval, "heartbeat-interval", DefaultHeartbeatInterval, "how often the hub checks the HeartbeatURL of services registered with POST /services")
	if err := config.Parse(fs, args, getenv); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if cfg.HeartbeatInterval < minInterval {
		return cfg, fmt.Errorf("-heartbeat-interval %v: the least is %v", cfg.HeartbeatInterval, minInterval)
	}
	return cfg, nil
}

// Run is the registryservice command: it parses args, starts the hub and serves until ctx ends.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := NewConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	h, err := New(cfg, stderr)
	if err != nil {
		return err
	}
	return h.Serve(ctx)
}

// Hub is a running registry. Build it with New, then call Serve.
type Hub struct {
	cfg     Config
	rt      *service.Runtime
	logger  log.Logger
	cat     *Catalog
	checker *Checker
	store   *persister
	course  *notifier
	stderr  io.Writer
	page    *template.Template
}

// New loads the catalog from cfg.Data, binds the listener and builds the routes. The hub's own
// work (checks, patches, saves) starts in Serve, which owns it. A Hub that New returns must be
// served: the runtime's watch for the log service starts here, and only Serve stops it.
func New(cfg Config, stderr io.Writer) (*Hub, error) {
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.Data == "" {
		return nil, errors.New("-data must name a directory")
	}
	if err := os.MkdirAll(cfg.Data, 0o755); err != nil {
		return nil, fmt.Errorf("create -data directory: %w", err)
	}
	cat, err := loadCatalog(cfg.Data)
	if err != nil {
		return nil, err
	}
	// The hub is its own registry: its log shipper finds the log service by asking the hub.
	rt, err := service.New(cfg.Common, stderr, service.WithSelfRegistry(), service.WithEnv(cfg.Getenv))
	if err != nil {
		return nil, err
	}
	// Nothing below can fail: a later step that could would have to rt.Close() as well.
	h := &Hub{cfg: cfg, rt: rt, logger: rt.Logger, stderr: stderr, cat: cat}
	for _, d := range cat.dropped {
		level.Warn(h.logger).Log("msg", "left a saved service out of the catalog: the hub no longer accepts it, and no route could remove it",
			"service_id", fmt.Sprintf("%q", d.ID), "name", fmt.Sprintf("%q", d.Name), "problem", d.Problem)
	}
	lateness := rt.Metrics.Histogram("registry", "check_lateness_seconds",
		"How late checks start compared with their schedule.",
		[]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5})
	h.checker = newChecker(cat, lateness)
	h.store = newPersister(filepath.Join(cfg.Data, catalogFile), cat.snapshot, func(err error) {
		level.Error(h.logger).Log("msg", "could not save the catalog", "err", err)
	})
	h.course = newNotifier(cat, h.checker.client, h.logger)
	cat.onPersist = h.store.mark
	if len(cat.dropped) > 0 {
		h.store.mark() // save the catalog without them once Serve starts
	}
	cat.onName = h.course.changed
	cat.onStatus = func(c statusChange) {
		lg := level.Info(h.logger)
		if c.To != "passing" {
			lg = level.Warn(h.logger)
		}
		lg.Log("msg", "check status changed", "service_id", c.Service, "check", c.Check, "from", c.From, "to", c.To, "output", text.Clip(c.Output, 200))
	}
	// As Consul does, a result its check's thresholds hold back is logged: a failure at warn (an
	// instance that may soon be critical), a success at info.
	h.checker.onHeld = func(r heldResult) {
		lg, msg := level.Warn(h.logger), "check failed; its status holds until enough failures in a row"
		if r.Status != "critical" {
			lg, msg = level.Info(h.logger), "check passed; its status holds until enough successes in a row"
		}
		lg.Log("msg", msg, "service_id", r.Service, "check", r.Check, "result", r.Status, "in_a_row", r.InARow,
			"threshold", r.Threshold, "output", text.Clip(r.Output, 200))
	}
	rt.Metrics.GaugeFunc("registry", "services", "Registered service instances.", func() float64 {
		cat.mu.Lock()
		defer cat.mu.Unlock()
		return float64(len(cat.services))
	})
	rt.Metrics.Register(instancesCollector{cat})
	rt.Metrics.GaugeFunc("registry", "index", "The catalog's index (X-Consul-Index).", func() float64 { return float64(cat.Index()) })
	h.page = parsePage()
	// The hub logs what happens to the catalog (registrations, deregistrations, status changes)
	// itself; its successful requests, mostly blocking queries, anti-entropy probes and status
	// page refreshes, would drown those lines, so they are logged at debug level.
	rt.QuietRoutes("/")
	// Consul's API is the system's plumbing (registrations, blocking queries, health checks), not
	// a user's request: it makes no traces, or every Instancer's long poll would fill them.
	rt.UntracedRoutes("/v1/")
	rt.SetRegistrar(selfRegistrar{h})
	// The hub cannot serve registrations while its catalog cannot be saved: each would be
	// answered 503. /health says so, and passes again once a save succeeds.
	rt.SetReady(func(context.Context) error { return h.store.failure() })
	h.routes()
	return h, nil
}

// Addr is the address the hub listens on (useful with -listen 127.0.0.1:0).
func (h *Hub) Addr() string { return h.rt.Addr() }

// URL is the hub's base URL, to hand to consul/api or -registry.
func (h *Hub) URL() string { return "http://" + h.rt.Addr() }

// Serve serves until ctx ends, which is the hub's one stop signal. Then it answers every blocking
// query, deregisters the hub from its own catalog and drains in-flight requests; then it stops
// every check, patch sender and the reaper, saves the catalog a last time, and returns.
func (h *Hub) Serve(ctx context.Context) error {
	// Blocking queries answer as soon as ctx ends: the drain would otherwise wait for each of
	// them to run out, minutes later.
	defer context.AfterFunc(ctx, h.cat.drain)()
	// Serve owns the hub's goroutines, and work is their lifetime. It outlives ctx on purpose:
	// while the runtime drains, in-flight registrations still wait for their save, and the
	// hub's own deregistration still reaches its course-protocol dependents and the disk.
	// Serve ends it once the runtime has stopped serving.
	work, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	var wg sync.WaitGroup
	for _, run := range []func(context.Context){h.store.run, h.reap, h.course.run, h.checker.supervise} {
		wg.Go(func() { run(work) })
	}
	// Course-protocol dependents of a reloaded catalog get their patches again. Before the checks
	// start: what a dependent is taken to know is read from the statuses as saved.
	for id, reg := range h.cat.courseDependents() {
		h.course.restoreDependent(id, reg)
	}
	for _, cs := range h.cat.allChecks() {
		h.checker.start(cs)
	}
	if h.cfg.LogLevel == "warn" || h.cfg.LogLevel == "error" {
		// Launchers and tests read the bound address from this line, so it is written whatever
		// the level; at info and debug the runtime's own "serving" line says the same.
		_ = log.With(log.NewLogfmtLogger(log.NewSyncWriter(h.stderr)), "level", "info", "ts", log.DefaultTimestampUTC).Log(
			"service", h.cfg.Name, "msg", "serving", "listen", h.Addr(), "advertise", h.rt.Config.Advertise)
	}
	err := h.rt.Serve(ctx)
	h.cat.drain() // the runtime may have stopped without ctx ending
	stopWork()
	wg.Wait()
	// The checker and the course notifier share this client, and both have stopped.
	h.checker.client.CloseIdleConnections()
	return err
}

// reap removes services whose checks have been critical for longer than they allow.
func (h *Hub) reap(ctx context.Context) {
	t := time.NewTicker(reapEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, id := range h.cat.criticalTooLong(time.Now()) {
			if _, err := h.deregister(id); err == nil {
				level.Warn(h.logger).Log("msg", "deregistered a service critical for longer than its DeregisterCriticalServiceAfter", "service_id", id)
			}
		}
	}
}

// register adds svc to the catalog and (re)starts its checks. It returns the persistence
// generation to wait for before acknowledging.
func (h *Hub) register(svc *serviceState, checks []*checkState) (uint64, error) {
	removed, added, gen, err := h.cat.register(svc, checks)
	if err != nil {
		return 0, err
	}
	what := "service registered"
	if len(removed) > 0 {
		what = "service registered again"
	}
	level.Info(h.logger).Log("msg", what, "service_id", svc.Service.ID, "name", svc.Service.Service,
		"address", svc.Service.Address, "port", svc.Service.Port, "checks", len(added))
	for _, cs := range removed {
		h.checker.stop(cs)
	}
	for _, cs := range added {
		h.checker.start(cs)
	}
	return gen, nil
}

func (h *Hub) deregister(id string) (uint64, error) {
	removed, gen, err := h.cat.deregister(id)
	for _, cs := range removed {
		h.checker.stop(cs)
	}
	if err == nil {
		level.Info(h.logger).Log("msg", "service deregistered", "service_id", id)
	}
	return gen, err
}

// selfRegistrar puts the hub into its own catalog directly: calling its own HTTP API would race
// its start-up and depend on -registry, which means nothing for the hub.
type selfRegistrar struct{ h *Hub }

func (s selfRegistrar) Register() {
	svc, checks, err := parseRegistration(s.h.rt.Registration())
	if err == nil {
		_, err = s.h.register(svc, checks)
	}
	if err != nil {
		level.Error(s.h.logger).Log("msg", "could not register the hub in its own catalog", "err", err)
	}
}

func (s selfRegistrar) Deregister() {
	_, _ = s.h.deregister(s.h.rt.Registration().ID)
}
