package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/httpx"
)

// patchTimeout bounds one patch POST to a dependent.
const patchTimeout = 3 * time.Second

// courseRegistration is the course protocol's registration JSON, unchanged.
type courseRegistration struct {
	ServiceName      string
	ServiceURL       string
	RequiredServices []string
	ServiceUpdateURL string
	HeartbeatURL     string
}

// patchEntry and patch are the course protocol's patch JSON: providers that came and went.
type patchEntry struct {
	Name string
	URL  string
}

type patch struct {
	Added   []patchEntry
	Removed []patchEntry
}

// courseService turns a course-protocol registration into a catalog service whose heartbeat is an
// HTTP check that starts passing and retires the service after two failed intervals.
func courseService(reg *courseRegistration, interval time.Duration) (*serviceState, []*checkState, error) {
	fe := errs.FieldErrors{}
	reg.ServiceName = strings.TrimSpace(reg.ServiceName)
	if reg.ServiceName == "" {
		fe["ServiceName"] = "is required"
	} else {
		validIdentifier(fe, "ServiceName", reg.ServiceName)
	}
	su, err := parseHTTPURL(reg.ServiceURL)
	if err != nil {
		fe["ServiceURL"] = err.Error()
	}
	if _, err := parseHTTPURL(reg.HeartbeatURL); err != nil {
		fe["HeartbeatURL"] = err.Error()
	}
	if reg.ServiceUpdateURL != "" {
		if _, err := parseHTTPURL(reg.ServiceUpdateURL); err != nil {
			fe["ServiceUpdateURL"] = err.Error()
		}
	} else if len(reg.RequiredServices) > 0 {
		fe["ServiceUpdateURL"] = "is required when RequiredServices is not empty"
	}
	if len(reg.RequiredServices) > MaxTags {
		fe["RequiredServices"] = fmt.Sprintf("must name at most %d services, not %d", MaxTags, len(reg.RequiredServices))
	} else {
		for i, n := range reg.RequiredServices {
			if strings.TrimSpace(n) == "" {
				fe[fmt.Sprintf("RequiredServices[%d]", i)] = "must not be empty"
				continue
			}
			validIdentifier(fe, fmt.Sprintf("RequiredServices[%d]", i), n)
		}
	}
	if len(fe) > 0 {
		return nil, nil, fe
	}
	host, port := su.Hostname(), su.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[su.Scheme]
	}
	var portNum int
	fmt.Sscan(port, &portNum)
	id := reg.ServiceName + "-" + host + "-" + port
	svc := &serviceState{
		Service: api.AgentService{
			ID: id, Service: reg.ServiceName, Address: host, Port: portNum, Tags: []string{},
			// "seed" is what clients of /v1 have always read here: it stays.
			Meta:       map[string]string{"protocol": "seed", "service_url": reg.ServiceURL},
			Weights:    api.AgentWeights{Passing: 1, Warning: 1},
			Datacenter: datacenter,
		},
		Course: reg,
	}
	check := &checkState{
		Def: checkDef{
			CheckID: "service:" + id, Name: "Heartbeat " + reg.HeartbeatURL,
			HTTP: reg.HeartbeatURL, Method: http.MethodGet,
			Interval: interval, Timeout: min(interval, 2*time.Second),
			DeregisterCriticalServiceAfter: 2 * interval,
		},
		Status: api.HealthPassing,
	}
	return svc, []*checkState{check}, nil
}

func parseHTTPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", raw)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil && u.Port() != "" {
		return nil, fmt.Errorf("%q has a bad host:port", raw)
	}
	return u, nil
}

// handleCourseRegister is the course protocol's POST /services. The dependent has its first patch
// (the current providers of everything it requires) before it has its 200.
func (h *Hub) handleCourseRegister(w http.ResponseWriter, r *http.Request) {
	var reg courseRegistration
	if err := httpx.DecodeJSON(w, r, &reg); err != nil {
		httpx.WriteError(w, err)
		return
	}
	svc, checks, err := courseService(&reg, h.cfg.HeartbeatInterval)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	gen, err := h.register(svc, checks)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	level.Info(h.logger).Log("msg", "course-protocol service registered", "service_id", svc.Service.ID, "url", reg.ServiceURL, "requires", strings.Join(reg.RequiredServices, ","))
	if sent := h.course.addDependent(svc.Service.ID, svc.Course); sent != nil {
		t := time.NewTimer(patchTimeout + time.Second)
		defer t.Stop()
		select {
		case <-sent:
		case <-t.C:
		case <-r.Context().Done():
		}
	}
	h.acknowledge(w, r, gen, map[string]string{"ID": svc.Service.ID})
}

// handleCourseDeregister is the course protocol's DELETE /services; its body is the service URL.
func (h *Hub) handleCourseDeregister(w http.ResponseWriter, r *http.Request) {
	body, err := httpx.ReadBody(w, r)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	serviceURL := strings.TrimSpace(string(body))
	id, ok := h.cat.courseServiceByURL(serviceURL)
	if !ok {
		httpx.WriteError(w, fmt.Errorf("%w: no service registered with URL %q", errs.ErrNotFound, serviceURL))
		return
	}
	gen, err := h.deregister(id)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	level.Info(h.logger).Log("msg", "course-protocol service deregistered", "service_id", id, "url", serviceURL)
	h.acknowledge(w, r, gen, nil)
}

// notifier sends the course protocol's patches: whenever the passing providers of a name change,
// every course-protocol dependent requiring that name gets the difference from its own sender
// goroutine, so that a slow dependent delays nobody else and the catalog is never locked while a
// patch is in flight.
//
// A dependent has at most one patch pending: the notifier records what the dependent should
// know, and the sender, when it is free, sends the difference between that and what it last
// sent. Changes that pile up while a patch is in flight (or while the dependent is slow) merge
// into one patch, and an instance that came and went in the meantime is not mentioned at all, so
// a stuck dependent costs the hub one provider set per name it requires, not a growing queue.
//
// The notifier owns the senders, and run is its lifetime: when run's context ends, run stops
// every sender and returns once they have all ended.
type notifier struct {
	cat    *Catalog
	client *http.Client
	logger log.Logger

	dirtyMu sync.Mutex
	dirty   map[string]struct{}
	kick    chan struct{}

	mu      sync.Mutex // serialises provider snapshots and the dependents' wanted sets
	stopped bool       // run's context has ended: no sender starts any more
	deps    map[string]*dependent
	wg      sync.WaitGroup // the senders
}

type dependent struct {
	id       string
	reg      *courseRegistration
	names    []string        // the names it requires, in its order, without repeats
	requires map[string]bool // the same, to look up
	cancel   context.CancelFunc
	kick     chan struct{}

	mu      sync.Mutex
	want    map[string]map[string]bool // required name → provider URLs the dependent should know
	told    map[string]map[string]bool // required name → provider URLs the patches sent so far name
	first   bool                       // the next patch goes out even if empty: it is the first
	waiters []chan struct{}            // closed once the next patch was delivered or given up
}

func newNotifier(cat *Catalog, client *http.Client, logger log.Logger) *notifier {
	return &notifier{cat: cat, client: client, logger: logger,
		dirty: map[string]struct{}{}, kick: make(chan struct{}, 1), deps: map[string]*dependent{}}
}

// changed notes that name's providers may have changed. The catalog calls it with its lock held,
// so it only records the name.
func (n *notifier) changed(name string) {
	n.dirtyMu.Lock()
	n.dirty[name] = struct{}{}
	n.dirtyMu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// run turns changed names into patches until ctx ends; then it stops every sender and returns
// once they have all ended.
func (n *notifier) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			n.stopSenders()
			return
		case <-n.kick:
		}
		n.dirtyMu.Lock()
		names := n.dirty
		n.dirty = map[string]struct{}{}
		n.dirtyMu.Unlock()
		n.process(names)
	}
}

func (n *notifier) stopSenders() {
	n.mu.Lock()
	n.stopped = true
	for id, d := range n.deps {
		d.cancel()
		delete(n.deps, id)
	}
	n.mu.Unlock()
	// No Add can follow: startDependent adds only under n.mu, and only while not stopped.
	n.wg.Wait()
}

func (n *notifier) process(names map[string]struct{}) {
	n.mu.Lock()
	defer n.mu.Unlock()
	// A dependent whose registration is gone or replaced gets nothing more.
	for id, d := range n.deps {
		if svc, ok := n.cat.service(id); !ok || svc.Course != d.reg {
			d.cancel()
			delete(n.deps, id)
		}
	}
	if len(n.deps) == 0 {
		return
	}
	for name := range names {
		var urls []string
		fetched := false
		for _, d := range n.deps {
			if !d.requires[name] {
				continue
			}
			if !fetched {
				urls, fetched = n.cat.providers(name), true
			}
			d.update(name, urls)
		}
	}
}

// addDependent starts sending patches to a course-protocol service, first the full list of the
// providers it requires. It returns a channel closed once that first patch has been sent, or
// nil when the service gave no ServiceUpdateURL.
func (n *notifier) addDependent(id string, reg *courseRegistration) <-chan struct{} {
	return n.startDependent(id, reg, false)
}

// restoreDependent resumes sending patches to a course-protocol service found in the catalog as
// loaded at start-up. It must run before the checks start, while every status is still the one
// the stopped hub saved: the dependent is taken to know the providers that catalog says are
// passing, since those are what the patches it was sent added up to, and its first patch is the
// first change after that. (Sending it the full list again instead would be wrong for the course's
// own client, which appends every Added URL, so each restart would list every provider once
// more; and a full list cannot take back providers it was told about that are gone.) Only a
// patch still unsent when the hub stopped is lost, as it was lost before the restart.
func (n *notifier) restoreDependent(id string, reg *courseRegistration) {
	n.startDependent(id, reg, true)
}

func (n *notifier) startDependent(id string, reg *courseRegistration, restored bool) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if old, ok := n.deps[id]; ok {
		old.cancel()
		delete(n.deps, id)
	}
	if reg.ServiceUpdateURL == "" || n.stopped {
		return nil
	}
	// A sender outlives the registration that starts it, so its context is its own: a newer
	// registration, process and stopSenders end it through cancel.
	ctx, cancel := context.WithCancel(context.Background())
	d := &dependent{id: id, reg: reg, requires: map[string]bool{}, cancel: cancel, kick: make(chan struct{}, 1),
		want: map[string]map[string]bool{}, told: map[string]map[string]bool{}}
	for _, name := range reg.RequiredServices {
		if d.requires[name] {
			continue
		}
		d.names = append(d.names, name)
		d.requires[name] = true
		d.want[name] = toSet(n.cat.providers(name))
		d.told[name] = map[string]bool{}
		if restored {
			d.told[name] = d.want[name]
		}
	}
	var sent chan struct{}
	if !restored {
		sent = make(chan struct{})
		d.first, d.waiters = true, []chan struct{}{sent}
		d.wake()
	}
	n.deps[id] = d
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.send(ctx, d)
	}()
	return sent
}

// update records that name's passing providers are now urls, and wakes the sender if that is
// news.
func (d *dependent) update(name string, urls []string) {
	d.mu.Lock()
	want := toSet(urls)
	changed := !maps.Equal(want, d.want[name])
	d.want[name] = want
	d.mu.Unlock()
	if changed {
		d.wake()
	}
}

func (d *dependent) wake() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// next takes the pending patch: the difference between what the dependent should know and what
// it was last sent, and the waiters for it. ok is false when there is nothing to send.
func (d *dependent) next() (p patch, waiters []chan struct{}, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p = patch{Added: []patchEntry{}, Removed: []patchEntry{}}
	for _, name := range d.names {
		want, told := d.want[name], d.told[name]
		for _, u := range slices.Sorted(maps.Keys(want)) {
			if !told[u] {
				p.Added = append(p.Added, patchEntry{Name: name, URL: u})
			}
		}
		for _, u := range slices.Sorted(maps.Keys(told)) {
			if !want[u] {
				p.Removed = append(p.Removed, patchEntry{Name: name, URL: u})
			}
		}
		d.told[name] = want // update replaces want, never changes it
	}
	if len(p.Added)+len(p.Removed) == 0 && !d.first {
		return p, nil, false
	}
	d.first = false
	waiters, d.waiters = d.waiters, nil
	return p, waiters, true
}

// send delivers d's patches until ctx ends. A patch that could not be delivered is not sent
// again: the dependent is told what changes after it, as the course's registry did.
func (n *notifier) send(ctx context.Context, d *dependent) {
	defer func() {
		d.mu.Lock()
		for _, ch := range d.waiters {
			close(ch)
		}
		d.waiters = nil
		d.mu.Unlock()
	}()
	logger := log.With(n.logger, "dependent", d.id, "update_url", d.reg.ServiceUpdateURL)
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
		}
		for {
			p, waiters, ok := d.next()
			if !ok {
				break
			}
			if err := n.post(ctx, d.reg.ServiceUpdateURL, p); err != nil {
				level.Warn(logger).Log("msg", "could not send a patch", "added", len(p.Added), "removed", len(p.Removed), "err", err)
			} else {
				level.Debug(logger).Log("msg", "patch sent", "added", len(p.Added), "removed", len(p.Removed))
			}
			for _, ch := range waiters {
				close(ch)
			}
			if ctx.Err() != nil {
				return
			}
		}
	}
}

func (n *notifier) post(ctx context.Context, target string, p patch) error {
	ctx, cancel := context.WithTimeout(ctx, patchTimeout)
	defer cancel()
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s", target, resp.Status)
	}
	return nil
}

func toSet(urls []string) map[string]bool {
	s := make(map[string]bool, len(urls))
	for _, u := range urls {
		s[u] = true
	}
	return s
}
