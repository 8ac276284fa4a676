package discovery

import (
	"slices"
	"sync"

	"github.com/go-kit/kit/sd"
	sdconsul "github.com/go-kit/kit/sd/consul"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/hashicorp/consul/api"
)

// Instancer is an sd.Instancer for the passing instances of one service, backed by go-kit's
// sd/consul Instancer. It differs from it in three ways that matter to a service:
//   - NewInstancer never blocks: go-kit's constructor makes its first query synchronously, which
//     would hold a service's start-up hostage to a slow registry (and the hub, which asks itself,
//     would wait for a server that has not started yet);
//   - every subscriber gets its own copy of each instance list, so that several Endpointers,
//     which sort the list in place, can share one Instancer;
//   - it logs each instance that appears or disappears.
//
// Share one per dependency.
type Instancer struct {
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
	ready chan struct{}
	first sync.Once

	mu   sync.Mutex
	subs map[chan<- sd.Event]struct{}
	last *sd.Event
}

var _ sd.Instancer = (*Instancer)(nil)

// NewInstancer subscribes to the passing instances of name that carry every tag in tags.
func NewInstancer(c *api.Client, name string, tags []string, logger log.Logger) *Instancer {
	in := &Instancer{stop: make(chan struct{}), done: make(chan struct{}), ready: make(chan struct{}), subs: map[chan<- sd.Event]struct{}{}}
	go in.run(c, name, tags, logger)
	return in
}

func (in *Instancer) run(c *api.Client, name string, tags []string, logger log.Logger) {
	defer close(in.done)
	sdLogger := level.Debug(log.With(logger, "component", "sd"))
	src := sdconsul.NewInstancer(sdconsul.NewClient(c), sdLogger, name, tags, true)
	events := make(chan sd.Event, 1)
	src.Register(events)
	logger = log.With(logger, "dependency", name)
	var known []string
	for {
		select {
		case <-in.stop:
			// go-kit's cache sends to its subscribers while holding its lock, so Deregister
			// would wait forever behind an update stuck on a full channel: keep draining.
			deregistered := make(chan struct{})
			go func() { src.Deregister(events); close(deregistered) }()
			for {
				select {
				case <-events:
				case <-deregistered:
					src.Stop()
					return
				}
			}
		case ev := <-events:
			in.publish(ev)
			if ev.Err != nil {
				continue // the last known instances stay in use; sd logs the error at debug level
			}
			known = logChanges(logger, known, ev.Instances)
		}
	}
}

func (in *Instancer) publish(ev sd.Event) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.last = &ev
	for ch := range in.subs {
		ch <- clone(ev)
	}
	in.first.Do(func() { close(in.ready) })
}

// Ready is closed once the registry has answered the first query, with instances or an error:
// from then on the subscribers know what there is to know. A service that depends on another can
// report itself ready only then, so that its first requests do not fail for want of a lookup.
func (in *Instancer) Ready() <-chan struct{} { return in.ready }

// logChanges logs the instances that appeared in now or disappeared from known, and returns now
// sorted, to be known next time.
func logChanges(logger log.Logger, known, now []string) []string {
	now = slices.Clone(now)
	slices.Sort(now)
	for _, inst := range now {
		if _, found := slices.BinarySearch(known, inst); !found {
			level.Info(logger).Log("msg", "dependency instance appeared", "instance", inst)
		}
	}
	for _, inst := range known {
		if _, found := slices.BinarySearch(now, inst); !found {
			level.Info(logger).Log("msg", "dependency instance disappeared", "instance", inst)
		}
	}
	return now
}

func clone(ev sd.Event) sd.Event {
	ev.Instances = slices.Clone(ev.Instances)
	return ev
}

// Register implements sd.Instancer: ch gets the current state at once, if there is one yet.
func (in *Instancer) Register(ch chan<- sd.Event) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.subs[ch] = struct{}{}
	if in.last != nil {
		ch <- clone(*in.last)
	}
}

// Deregister implements sd.Instancer.
func (in *Instancer) Deregister(ch chan<- sd.Event) {
	in.mu.Lock()
	delete(in.subs, ch)
	in.mu.Unlock()
}

// Stop ends the subscription and the blocking-query loop behind it. It returns once the first
// query (bounded by the client's timeout) has ended.
func (in *Instancer) Stop() {
	in.once.Do(func() {
		close(in.stop)
		<-in.done
	})
}
