package registry

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/pkg/errs"
)

// The node every service appears on. go-kit's sd/consul uses Node.Address when a service has
// no address of its own.
const (
	nodeName   = "gradebook-hub"
	nodeAddr   = "127.0.0.1"
	datacenter = "dc1"
)

// checkDef is a check as it was registered: what to probe and how often.
type checkDef struct {
	CheckID                        string
	Name                           string
	Notes                          string              `json:",omitempty"`
	HTTP                           string              `json:",omitempty"`
	Method                         string              `json:",omitempty"`
	Header                         map[string][]string `json:",omitempty"`
	Body                           string              `json:",omitempty"`
	TCP                            string              `json:",omitempty"`
	TTL                            time.Duration       `json:",omitempty"`
	GRPC                           string              `json:",omitempty"` // accepted later; kept so stored files stay readable
	Interval                       time.Duration       `json:",omitempty"`
	Timeout                        time.Duration       `json:",omitempty"`
	DeregisterCriticalServiceAfter time.Duration       `json:",omitempty"`
	// SuccessBeforePassing, FailuresBeforeWarning and FailuresBeforeCritical are Consul's
	// thresholds: how many results in a row it takes to change the check's status (see
	// thresholds). Zero is one, as in Consul.
	SuccessBeforePassing   int `json:",omitempty"`
	FailuresBeforeWarning  int `json:",omitempty"`
	FailuresBeforeCritical int `json:",omitempty"`
}

// kind is the check type as Consul names it.
func (d *checkDef) kind() string {
	switch {
	case d.TTL > 0:
		return "ttl"
	case d.TCP != "":
		return "tcp"
	case d.GRPC != "":
		return "grpc"
	default:
		return "http"
	}
}

// checkState is a check with its current status. The catalog owns it; a check runner holds a
// pointer to it so that a runner of a replaced check can never write into its successor.
type checkState struct {
	Def         checkDef
	ServiceID   string
	Status      string
	Output      string
	CreateIndex uint64
	ModifyIndex uint64
	// Since is when Status last changed: the page shows it and the reaper measures from it.
	Since time.Time

	ttlReset chan struct{} // a TTL update restarts the runner's timer
}

// serviceState is one registered service instance.
type serviceState struct {
	Service  api.AgentService
	CheckIDs []string
	// Course is set for services registered through the course protocol's POST /services. Its
	// stored key stays "Seed", the name it was saved under before, so that saved catalogs load.
	Course *courseRegistration `json:"Seed,omitempty"`
	Since  time.Time

	enc []byte // the stored record, encoded; nil after a change
}

// providerURL is how the course protocol names an instance in its patches.
func (s *serviceState) providerURL() string {
	if s.Course != nil {
		return s.Course.ServiceURL
	}
	addr := s.Service.Address
	if addr == "" {
		addr = nodeAddr
	}
	return fmt.Sprintf("http://%s:%d", addr, s.Service.Port)
}

// statusChange is reported for every check whose status moved.
type statusChange struct {
	Service, Check, From, To, Output string
}

// Catalog is the hub's state: services, their checks, and the Raft-like index that blocking
// queries watch. Every change that clients can observe bumps the index; output-only updates do
// not, so a steady fleet never wakes a watcher.
type Catalog struct {
	mu    sync.Mutex
	index uint64
	// names holds, for every name with an instance, the index of its last change; a name is
	// forgotten when its last instance leaves, so that the catalog does not keep every name
	// ever registered. gone is the index of the last such departure: a name without an
	// instance answers with it, which is at least any index the name had while it had
	// instances, so no client sees an index go back, and which moves only when a name goes,
	// so that a query on a name nobody has is not woken by every other change.
	names     map[string]uint64
	instances map[string]int // per name: how many services have it
	gone      uint64
	services  map[string]*serviceState
	checks    map[string]*checkState

	// watchers are closed and forgotten on a change: one per name being watched, and all for
	// every change. Closing a channel wakes every waiter without polling.
	watchers map[string]*watch
	all      chan struct{}
	// draining is set once the hub stops: every blocking query answers at once from then on.
	draining bool

	// Hooks, called with mu held; they must not block or call back into the catalog.
	onStatus  func(statusChange)
	onName    func(name string) // a name's providers may have changed
	onPersist func() uint64     // the catalog changed; returns the change's generation

	snapshotSize int // the last snapshot's size, to allocate the next one at once

	// dropped names the services a loaded file held that the hub would refuse to register now
	// (an ID such as ".." that no route can reach), which loadCatalog left out; New logs them.
	dropped []droppedService
}

// droppedService is a saved service that loadCatalog left out, and why.
type droppedService struct{ ID, Name, Problem string }

func newCatalog() *Catalog {
	return &Catalog{
		index:     1,
		names:     map[string]uint64{},
		instances: map[string]int{},
		gone:      1,
		services:  map[string]*serviceState{},
		checks:    map[string]*checkState{},
		watchers:  map[string]*watch{},
		all:       make(chan struct{}),
	}
}

// bump records a change to the given names and wakes their watchers. Called with mu held.
func (c *Catalog) bump(names ...string) uint64 {
	c.index++
	for _, n := range names {
		if c.instances[n] > 0 {
			c.names[n] = c.index
		} else {
			delete(c.names, n)
			delete(c.instances, n)
			c.gone = c.index
		}
		if w, ok := c.watchers[n]; ok {
			close(w.ch)
			delete(c.watchers, n)
		}
		if c.onName != nil {
			c.onName(n)
		}
	}
	close(c.all)
	c.all = make(chan struct{})
	return c.persistLocked()
}

func (c *Catalog) persistLocked() uint64 {
	if c.onPersist != nil {
		return c.onPersist()
	}
	return 0
}

// Index is the catalog's current index.
func (c *Catalog) Index() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.index
}

// nameIndexLocked is the index of name's last change; for a name without an instance, the
// index at which a name last lost its last instance (1 if none has), so that registering it
// moves its index and its index never goes back.
func (c *Catalog) nameIndexLocked(name string) uint64 {
	if i, ok := c.names[name]; ok {
		return i
	}
	return c.gone
}

// register adds or replaces a service with its checks, and returns the checks that replaced
// ones must stop and new ones must start, plus the persistence generation to wait for.
func (c *Catalog) register(svc *serviceState, checks []*checkState) (removed, added []*checkState, gen uint64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := svc.Service.ID
	for _, cs := range checks {
		if other, ok := c.checks[cs.Def.CheckID]; ok && other.ServiceID != id {
			return nil, nil, 0, fmt.Errorf("%w: check ID %q already belongs to service %q", errs.ErrInvalid, cs.Def.CheckID, other.ServiceID)
		}
	}
	names := []string{svc.Service.Service}
	now := time.Now()
	idx := c.index + 1 // bump below moves the index here
	if old, ok := c.services[id]; ok {
		removed = c.removeLocked(old)
		if old.Service.Service != svc.Service.Service {
			names = append(names, old.Service.Service)
		}
		svc.Service.CreateIndex = old.Service.CreateIndex
	} else {
		svc.Service.CreateIndex = idx
	}
	svc.Service.ModifyIndex = idx
	svc.Since = now
	svc.CheckIDs = svc.CheckIDs[:0]
	for _, cs := range checks {
		cs.ServiceID = id
		cs.CreateIndex, cs.ModifyIndex = idx, idx
		cs.Since = now
		cs.ttlReset = make(chan struct{}, 1)
		c.checks[cs.Def.CheckID] = cs
		svc.CheckIDs = append(svc.CheckIDs, cs.Def.CheckID)
	}
	c.services[id] = svc
	c.instances[svc.Service.Service]++
	gen = c.bump(names...)
	return removed, checks, gen, nil
}

func (c *Catalog) removeLocked(svc *serviceState) []*checkState {
	var removed []*checkState
	for _, cid := range svc.CheckIDs {
		if cs, ok := c.checks[cid]; ok {
			removed = append(removed, cs)
			delete(c.checks, cid)
		}
	}
	delete(c.services, svc.Service.ID)
	c.instances[svc.Service.Service]--
	return removed
}

// deregister removes a service and returns its checks, which must stop.
func (c *Catalog) deregister(id string) (removed []*checkState, gen uint64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	svc, ok := c.services[id]
	if !ok {
		return nil, 0, fmt.Errorf("%w: unknown service ID %q", errs.ErrNotFound, id)
	}
	removed = c.removeLocked(svc)
	return removed, c.bump(svc.Service.Service), nil
}

// setStatus records a check result. Only a status change bumps the index; a new output alone
// is stored in place. A result for a check that has since been replaced or removed is dropped,
// and setStatus reports false so that its runner ends.
func (c *Catalog) setStatus(cs *checkState, status, output string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.checks[cs.Def.CheckID] != cs {
		return false
	}
	c.setStatusLocked(cs, status, output)
	return true
}

// current reports whether cs is still the catalog's check under its ID.
func (c *Catalog) current(cs *checkState) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checks[cs.Def.CheckID] == cs
}

func (c *Catalog) setStatusLocked(cs *checkState, status, output string) {
	cs.Output = output
	if cs.Status == status {
		return
	}
	from := cs.Status
	cs.Status = status
	cs.Since = time.Now()
	svc := c.services[cs.ServiceID]
	svc.enc = nil
	c.bump(svc.Service.Service)
	cs.ModifyIndex = c.index
	if c.onStatus != nil {
		c.onStatus(statusChange{Service: cs.ServiceID, Check: cs.Def.CheckID, From: from, To: status, Output: output})
	}
}

// updateTTL sets a TTL check's status from its service, and restarts its TTL.
func (c *Catalog) updateTTL(checkID, status, output string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cs, ok := c.checks[checkID]
	if !ok {
		return fmt.Errorf("%w: unknown check ID %q", errs.ErrNotFound, checkID)
	}
	if cs.Def.TTL <= 0 {
		return fmt.Errorf("%w: check %q is a %s check, not a TTL check", errs.ErrInvalid, checkID, cs.Def.kind())
	}
	c.setStatusLocked(cs, status, output)
	select {
	case cs.ttlReset <- struct{}{}:
	default:
	}
	return nil
}

// criticalTooLong returns the services that have a check critical for longer than the check's
// DeregisterCriticalServiceAfter.
func (c *Catalog) criticalTooLong(now time.Time) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for _, cs := range c.checks {
		d := cs.Def.DeregisterCriticalServiceAfter
		if d > 0 && cs.Status == api.HealthCritical && now.Sub(cs.Since) >= d && !slices.Contains(ids, cs.ServiceID) {
			ids = append(ids, cs.ServiceID)
		}
	}
	return ids
}

// wait blocks until the index of name (or, for name "", the catalog's) moves past min, the wait
// runs out, ctx ends or the catalog drains. min 0 answers at once, and so does an index from the
// future: only a restarted hub can have handed it out, and the client must start over.
func (c *Catalog) wait(ctx context.Context, name string, min uint64, d time.Duration) {
	if min == 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		c.mu.Lock()
		if c.draining {
			c.mu.Unlock()
			return
		}
		cur := c.index
		if name != "" {
			cur = c.nameIndexLocked(name)
		}
		if cur > min || min > c.index {
			c.mu.Unlock()
			return
		}
		if name == "" {
			ch := c.all
			c.mu.Unlock()
			if !sleep(ctx, ch, timer.C) {
				return
			}
			continue
		}
		w := c.watchers[name]
		if w == nil {
			w = &watch{ch: make(chan struct{})}
			c.watchers[name] = w
		}
		w.n++
		c.mu.Unlock()
		woken := sleep(ctx, w.ch, timer.C)
		c.mu.Lock()
		// Forget a watch nobody waits on any more, so that queries for names that never change
		// cannot grow the map without bound.
		if w.n--; w.n == 0 && c.watchers[name] == w {
			delete(c.watchers, name)
		}
		c.mu.Unlock()
		if !woken {
			return
		}
	}
}

// watch is a channel closed on the next change of one name, and how many wait on it.
type watch struct {
	ch chan struct{}
	n  int
}

// sleep waits for ch and reports whether it was closed (rather than the wait or ctx ending).
func sleep(ctx context.Context, ch <-chan struct{}, timeout <-chan time.Time) bool {
	select {
	case <-ch:
		return true
	case <-timeout:
	case <-ctx.Done():
	}
	return false
}

// drain answers every blocking query now, and every later one at once: the hub is stopping, and
// its in-flight requests must finish rather than wait minutes for a change. The catalog keeps
// taking changes (the hub still deregisters itself).
func (c *Catalog) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.draining {
		return
	}
	c.draining = true
	close(c.all)
	c.all = make(chan struct{})
	for name, w := range c.watchers {
		close(w.ch)
		delete(c.watchers, name)
	}
}

// serviceEntries is the answer to /v1/health/service/{name}, and its index.
func (c *Catalog) serviceEntries(name string, tags []string, passingOnly bool) ([]*api.ServiceEntry, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	entries := []*api.ServiceEntry{}
	for _, svc := range c.sortedServicesLocked() {
		if svc.Service.Service != name || !hasTags(svc.Service.Tags, tags) {
			continue
		}
		if passingOnly && !c.passingLocked(svc) {
			continue
		}
		as := svc.Service
		e := &api.ServiceEntry{Node: node(), Service: &as}
		for _, cid := range svc.CheckIDs {
			e.Checks = append(e.Checks, c.healthCheckLocked(c.checks[cid], svc))
		}
		if e.Checks == nil {
			e.Checks = api.HealthChecks{}
		}
		entries = append(entries, e)
	}
	return entries, c.nameIndexLocked(name)
}

func node() *api.Node {
	return &api.Node{Node: nodeName, Address: nodeAddr, Datacenter: datacenter,
		TaggedAddresses: map[string]string{"lan": nodeAddr, "wan": nodeAddr}, Meta: map[string]string{}}
}

func hasTags(have, want []string) bool {
	for _, t := range want {
		if !slices.Contains(have, t) {
			return false
		}
	}
	return true
}

// passingLocked is Consul's ?passing: every check of the service is passing.
func (c *Catalog) passingLocked(svc *serviceState) bool {
	for _, cid := range svc.CheckIDs {
		if cs := c.checks[cid]; cs != nil && cs.Status != api.HealthPassing {
			return false
		}
	}
	return true
}

func (c *Catalog) sortedServicesLocked() []*serviceState {
	out := make([]*serviceState, 0, len(c.services))
	for _, id := range slices.Sorted(maps.Keys(c.services)) {
		out = append(out, c.services[id])
	}
	return out
}

func (c *Catalog) healthCheckLocked(cs *checkState, svc *serviceState) *api.HealthCheck {
	return &api.HealthCheck{
		Node:        nodeName,
		CheckID:     cs.Def.CheckID,
		Name:        cs.Def.Name,
		Status:      cs.Status,
		Notes:       cs.Def.Notes,
		Output:      cs.Output,
		ServiceID:   svc.Service.ID,
		ServiceName: svc.Service.Service,
		ServiceTags: nonNil(svc.Service.Tags),
		Type:        cs.Def.kind(),
		Definition:  definition(cs.Def),
		CreateIndex: cs.CreateIndex,
		ModifyIndex: cs.ModifyIndex,
	}
}

func definition(d checkDef) api.HealthCheckDefinition {
	return api.HealthCheckDefinition{
		HTTP: d.HTTP, Header: d.Header, Method: d.Method, Body: d.Body, TCP: d.TCP, GRPC: d.GRPC,
		IntervalDuration: d.Interval, TimeoutDuration: d.Timeout,
		DeregisterCriticalServiceAfterDuration: d.DeregisterCriticalServiceAfter,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// agentServices is /v1/agent/services.
func (c *Catalog) agentServices() (map[string]*api.AgentService, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]*api.AgentService, len(c.services))
	for id, svc := range c.services {
		as := svc.Service
		out[id] = &as
	}
	return out, c.index
}

// agentService is /v1/agent/service/{id}.
func (c *Catalog) agentService(id string) (*api.AgentService, uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	svc, ok := c.services[id]
	if !ok {
		return nil, c.index, fmt.Errorf("%w: unknown service ID %q", errs.ErrNotFound, id)
	}
	as := svc.Service
	as.ContentHash = fmt.Sprintf("%016x", svc.Service.ModifyIndex)
	return &as, c.index, nil
}

// agentChecks is /v1/agent/checks.
func (c *Catalog) agentChecks() (map[string]*api.AgentCheck, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]*api.AgentCheck, len(c.checks))
	for id, cs := range c.checks {
		svc := c.services[cs.ServiceID]
		out[id] = &api.AgentCheck{
			Node: nodeName, CheckID: id, Name: cs.Def.Name, Status: cs.Status, Notes: cs.Def.Notes,
			Output: cs.Output, ServiceID: cs.ServiceID, ServiceName: svc.Service.Service,
			Type: cs.Def.kind(), Definition: definition(cs.Def),
		}
	}
	return out, c.index
}

// catalogServices is /v1/catalog/services: every name with the union of its instances' tags.
func (c *Catalog) catalogServices() (map[string][]string, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]string{}
	for _, svc := range c.services {
		tags := out[svc.Service.Service]
		if tags == nil {
			tags = []string{}
		}
		for _, t := range svc.Service.Tags {
			if !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
		sort.Strings(tags)
		out[svc.Service.Service] = tags
	}
	return out, c.index
}

// providers returns the course-protocol URLs of the passing instances of name, sorted.
func (c *Catalog) providers(name string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var urls []string
	for _, svc := range c.services {
		if svc.Service.Service == name && c.passingLocked(svc) {
			urls = append(urls, svc.providerURL())
		}
	}
	sort.Strings(urls)
	return slices.Compact(urls)
}

// service returns a copy of the registration of id, if it is registered.
func (c *Catalog) service(id string) (serviceState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	svc, ok := c.services[id]
	if !ok {
		return serviceState{}, false
	}
	return *svc, true
}

// courseServiceByURL finds the course-protocol service registered with serviceURL.
func (c *Catalog) courseServiceByURL(serviceURL string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, svc := range c.services {
		if svc.Course != nil && svc.Course.ServiceURL == serviceURL {
			return id, true
		}
	}
	return "", false
}

// allChecks returns every check, for the checker to start after a load.
func (c *Catalog) allChecks() []*checkState {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*checkState, 0, len(c.checks))
	for _, cs := range c.checks {
		out = append(out, cs)
	}
	return out
}

// courseDependents returns the course-protocol registrations that take patches, by service ID.
func (c *Catalog) courseDependents() map[string]*courseRegistration {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]*courseRegistration{}
	for id, svc := range c.services {
		if svc.Course != nil && svc.Course.ServiceUpdateURL != "" {
			out[id] = svc.Course
		}
	}
	return out
}
