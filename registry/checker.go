package registry

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/kit/metrics"
	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/gradebook/gradebook/pkg/httpx"
)

const (
	// minInterval is the shortest check interval the hub honours; shorter ones are raised.
	minInterval = 100 * time.Millisecond
	// defaultTimeout is Consul's default check timeout.
	defaultTimeout = 10 * time.Second
	// reapEvery is how often the hub looks for services critical for too long.
	reapEvery = 100 * time.Millisecond
)

// Checker runs every check of the catalog, each on its own goroutine with its own fixed-rate
// ticker, so that a slow target delays nothing but itself and a thousand checks at 1 s run side
// by side rather than one after another.
//
// The checker owns those goroutines, and supervise is its lifetime: when supervise's context
// ends, it stops every runner and returns once they have all ended.
type Checker struct {
	cat      *Catalog
	client   *http.Client
	lateness metrics.Histogram

	wg sync.WaitGroup // the runners

	mu      sync.Mutex
	stopped bool // supervise's context has ended: no runner starts any more
	runners map[*checkState]*runner

	// onHeld, when set (before the checker runs), hears of each result a check's thresholds
	// hold back.
	onHeld func(heldResult)
}

// heldResult is a probe's result that a check's thresholds held back: the status stays what it
// was until Threshold results in a row agree; this was the InARow-th.
type heldResult struct {
	Service, Check, Status, Output string
	InARow, Threshold              int
}

// runner is one check's goroutine, as the checker tracks it; cancel is how it is stopped.
type runner struct{ cancel context.CancelFunc }

func newChecker(cat *Catalog, lateness metrics.Histogram) *Checker {
	transport := httpx.NewTransport(64)
	// Every check dials afresh, as Consul's do: a check over a kept-alive connection passes for
	// as long as that connection lives, even when the instance can no longer take a new one (its
	// connection limit reached, its accept loop stuck), which is what every other client sees.
	transport.DisableKeepAlives = true
	transport.DisableCompression = true
	// A check's dial is bounded by the check's own timeout, as Consul bounds it, not by a
	// shorter dial timeout of the transport. A connection lives for one check, so TCP keep-alive
	// probes would never fire: not setting them up saves a few system calls per check.
	transport.DialContext = (&net.Dialer{KeepAlive: -1}).DialContext
	return &Checker{
		cat: cat,
		// Redirects are followed, as Consul's HTTP checks follow them.
		client:   &http.Client{Transport: transport},
		lateness: lateness,
		runners:  map[*checkState]*runner{},
	}
}

// supervise lets runners start until ctx ends; then it stops them all and returns once every one
// has ended.
func (k *Checker) supervise(ctx context.Context) {
	<-ctx.Done()
	k.mu.Lock()
	k.stopped = true
	for cs, r := range k.runners {
		r.cancel()
		delete(k.runners, cs)
	}
	k.mu.Unlock()
	// No Add can follow: start adds only under k.mu, and only while the checker has not stopped.
	k.wg.Wait()
}

// start runs cs until stop(cs), until cs is no longer the catalog's, or until supervise's
// context ends. A registration updates the catalog and starts its checks in two steps, so a
// concurrent registration of the same ID can replace cs and stop it before cs is started: cs is
// only started while it is still current, checked under k.mu, which stop also takes. (Lock order:
// k.mu, then the catalog's.)
func (k *Checker) start(cs *checkState) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped {
		return
	}
	if _, running := k.runners[cs]; running {
		return
	}
	if !k.cat.current(cs) {
		return
	}
	// A runner outlives the registration that starts it, so its context is its own: stop, forget
	// and supervise end it through cancel.
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{cancel: cancel}
	k.runners[cs] = r
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		defer k.forget(cs, r)
		k.run(ctx, cs)
	}()
}

// forget drops r once it has ended by itself (its check was replaced without a stop).
func (k *Checker) forget(cs *checkState, r *runner) {
	k.mu.Lock()
	defer k.mu.Unlock()
	r.cancel()
	if k.runners[cs] == r {
		delete(k.runners, cs)
	}
}

// stop ends cs's runner; it does not wait for it, as its results are dropped anyway.
func (k *Checker) stop(cs *checkState) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if r, ok := k.runners[cs]; ok {
		r.cancel()
		delete(k.runners, cs)
	}
}

func (k *Checker) run(ctx context.Context, cs *checkState) {
	def := cs.Def
	if def.TTL > 0 {
		k.runTTL(ctx, cs)
		return
	}
	probe, closeProbe := k.probe(def)
	defer closeProbe()
	th := newThresholds(def)
	// The first result comes at once, not one interval after registration.
	status, output := probe(ctx)
	if ctx.Err() != nil || !k.record(cs, &th, status, output) {
		return
	}
	t := time.NewTicker(def.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case scheduled := <-t.C:
			// A ticker's value is the time it was due, so this is how late the check starts.
			k.lateness.Observe(time.Since(scheduled).Seconds())
		}
		status, output := probe(ctx)
		// A check that is no longer the catalog's has nobody to report to: end, whether or not
		// stop was called.
		if ctx.Err() != nil || !k.record(cs, &th, status, output) {
			return
		}
	}
}

// record passes a probe's result through the check's thresholds to the catalog, and reports
// whether the check is still the catalog's. A result the thresholds hold back changes nothing,
// not even the output, as in Consul: the catalog keeps showing the result its status came from.
func (k *Checker) record(cs *checkState, th *thresholds, status, output string) bool {
	got := status
	status, ok := th.next(status)
	if !ok {
		if k.onHeld != nil {
			inARow, threshold := th.held(got)
			k.onHeld(heldResult{Service: cs.ServiceID, Check: cs.Def.CheckID, Status: got, Output: output,
				InARow: inARow, Threshold: threshold})
		}
		return k.cat.current(cs)
	}
	return k.cat.setStatus(cs, status, output)
}

// thresholds are Consul's SuccessBeforePassing, FailuresBeforeWarning and FailuresBeforeCritical
// for one running check, with the results in a row so far. A passing (or warning) result changes
// the status once SuccessBeforePassing of them have come in a row; a critical result does once
// FailuresBeforeCritical have, and turns it warning from FailuresBeforeWarning on (which
// registration sets to FailuresBeforeCritical when it is not given). As in Consul, the first
// result counts at once, whatever it is: the counts start as if the thresholds were already met.
// With no thresholds, every result counts at once. A slow moment of an instance under load, one
// check timing out, then does not take it out of every caller's balancer.
type thresholds struct {
	def                 checkDef
	successes, failures int
}

func newThresholds(def checkDef) thresholds {
	return thresholds{def: def, successes: def.SuccessBeforePassing, failures: def.FailuresBeforeCritical}
}

// held says, for a result next has just held back, how many like it have come in a row and how
// many it takes to change the status.
func (t *thresholds) held(status string) (inARow, threshold int) {
	if status != api.HealthCritical {
		return t.successes, t.def.SuccessBeforePassing
	}
	return t.failures, t.def.FailuresBeforeWarning
}

// next takes one probe's status and returns the status to record, or false to record nothing.
func (t *thresholds) next(status string) (string, bool) {
	if status != api.HealthCritical {
		t.successes++
		t.failures = 0
		return status, t.successes >= t.def.SuccessBeforePassing
	}
	t.failures++
	t.successes = 0
	switch {
	case t.failures >= t.def.FailuresBeforeCritical:
		return api.HealthCritical, true
	case t.failures >= t.def.FailuresBeforeWarning:
		return api.HealthWarning, true
	}
	return "", false
}

func (k *Checker) runTTL(ctx context.Context, cs *checkState) {
	timer := time.NewTimer(cs.Def.TTL)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-cs.ttlReset:
			timer.Reset(cs.Def.TTL)
		case <-timer.C:
			if !k.cat.setStatus(cs, api.HealthCritical, "TTL expired") {
				return
			}
		}
	}
}

// probe returns what runs one check of def, and what releases what it holds once the runner
// ends.
func (k *Checker) probe(def checkDef) (run func(context.Context) (status, output string), release func()) {
	nothing := func() {}
	switch def.kind() {
	case "tcp":
		return func(ctx context.Context) (string, string) { return k.probeTCP(ctx, def) }, nothing
	case "http":
		return newHTTPProbe(k.client, def), nothing
	case "grpc":
		p := newGRPCProbe(def)
		return p.run, p.close
	default:
		return func(context.Context) (string, string) {
			return api.HealthCritical, def.kind() + " checks are not supported by this hub"
		}, nothing
	}
}

// httpProbe is Consul's HTTP check: 2xx is passing, 429 is warning, anything else is critical.
// Unlike Consul's, its output is the status line without the body (see run). It belongs to one
// runner goroutine, and keeps its buffers and last output between runs, so that a steady target
// (the usual case, a thousand times a second) costs few allocations.
type httpProbe struct {
	client *http.Client
	def    checkDef
	header http.Header
	prefix string // "HTTP GET <url>: "
	out    []byte
	last   string
}

func newHTTPProbe(client *http.Client, def checkDef) func(context.Context) (string, string) {
	method := def.Method
	if method == "" {
		method = http.MethodGet
	}
	def.Method = method
	if _, err := url.Parse(def.HTTP); err != nil {
		msg := err.Error()
		return func(context.Context) (string, string) { return api.HealthCritical, msg }
	}
	header := http.Header{}
	for k, vs := range def.Header {
		for _, v := range vs {
			header.Add(k, v)
		}
	}
	if header.Get("User-Agent") == "" {
		header.Set("User-Agent", "Consul Health Check")
	}
	if header.Get("Accept") == "" {
		header.Set("Accept", "text/plain, text/*, */*")
	}
	p := &httpProbe{client: client, def: def, header: header,
		prefix: "HTTP " + method + " " + def.HTTP + ": "}
	return p.run
}

func (p *httpProbe) run(ctx context.Context) (string, string) {
	ctx, cancel := context.WithTimeout(ctx, p.def.Timeout)
	defer cancel()
	var body io.Reader
	if p.def.Body != "" {
		body = strings.NewReader(p.def.Body)
	}
	req, err := http.NewRequestWithContext(ctx, p.def.Method, p.def.HTTP, body)
	if err != nil {
		return api.HealthCritical, err.Error()
	}
	req.Header = p.header.Clone()
	resp, err := p.client.Do(req)
	if err != nil {
		return api.HealthCritical, err.Error()
	}
	// The body is read (bounded) and thrown away, never kept: a check's output is shown to anyone
	// who reads the catalog, and the target is whatever URL a registration named, so echoing its
	// answer (as Consul does, up to 4 KB) would let anyone who can register read any URL the hub
	// can reach. The output is the status alone.
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
	p.out = append(p.out[:0], p.prefix...)
	p.out = append(p.out, resp.Status...)
	if string(p.out) != p.last { // compiled without a copy
		p.last = string(p.out)
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return api.HealthPassing, p.last
	case resp.StatusCode == http.StatusTooManyRequests:
		return api.HealthWarning, p.last
	default:
		return api.HealthCritical, p.last
	}
}

// probeTCP is Consul's TCP check: a connection that opens is passing.
func (k *Checker) probeTCP(ctx context.Context, def checkDef) (string, string) {
	d := net.Dialer{Timeout: def.Timeout}
	conn, err := d.DialContext(ctx, "tcp", def.TCP)
	if err != nil {
		return api.HealthCritical, err.Error()
	}
	conn.Close()
	return api.HealthPassing, fmt.Sprintf("TCP connect %s: Success", def.TCP)
}

// grpcProbe is Consul's GRPC check: grpc.health.v1 Check over a plain connection, for the whole
// server ("host:port") or one service ("host:port/service"). SERVING is passing; anything else,
// an unknown service and an unreachable server included, is critical.
//
// It belongs to one runner and keeps one connection for all of its probes, closed when the
// runner ends: a connection per probe cost a TCP and HTTP/2 handshake every interval, on the hub
// and on the target. The connection redials by itself after the target restarts; its backoff is
// capped at the check's interval so that a target that comes back is seen within about two
// intervals, as a fresh dial would see it.
type grpcProbe struct {
	def     checkDef
	addr    string
	service string
	conn    *grpc.ClientConn
}

func newGRPCProbe(def checkDef) *grpcProbe {
	addr, service := splitGRPCTarget(def.GRPC)
	return &grpcProbe{def: def, addr: addr, service: service}
}

func (p *grpcProbe) run(ctx context.Context) (string, string) {
	if p.conn == nil {
		bo := backoff.DefaultConfig
		bo.BaseDelay = min(bo.BaseDelay, p.def.Interval)
		bo.MaxDelay = max(p.def.Interval, bo.BaseDelay)
		conn, err := grpc.NewClient("passthrough:///"+p.addr,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: p.def.Timeout}))
		if err != nil {
			return api.HealthCritical, fmt.Sprintf("gRPC check %s: %v", p.def.GRPC, err)
		}
		p.conn = conn
	}
	ctx, cancel := context.WithTimeout(ctx, p.def.Timeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(p.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: p.service})
	if err != nil {
		return api.HealthCritical, fmt.Sprintf("gRPC check %s: %v", p.def.GRPC, err)
	}
	if st := resp.GetStatus(); st != healthpb.HealthCheckResponse_SERVING {
		return api.HealthCritical, fmt.Sprintf("gRPC check %s: %s", p.def.GRPC, st)
	}
	return api.HealthPassing, fmt.Sprintf("gRPC check %s: success", p.def.GRPC)
}

func (p *grpcProbe) close() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}

// splitGRPCTarget splits a GRPC check's "host:port/service" into its address and service name.
func splitGRPCTarget(target string) (addr, service string) {
	addr, service, _ = strings.Cut(target, "/")
	return addr, service
}

func validHostPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port != ""
}
