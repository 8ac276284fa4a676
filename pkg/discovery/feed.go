package discovery

import (
	"slices"
	"sync"

	"github.com/go-kit/kit/sd"
)

// feed hands the events of one Instancer to its subscribers. Every subscriber gets its own copy
// of each instance list, so that several Endpointers, which sort the list in place, can share
// one Instancer.
type feed struct {
	ready chan struct{}
	first sync.Once

	mu   sync.Mutex
	subs map[chan<- sd.Event]struct{}
	// last is what a new subscriber gets: the last instances known, or the error when the
	// registry has never answered with any.
	last *sd.Event
}

func newFeed() feed {
	return feed{ready: make(chan struct{}), subs: map[chan<- sd.Event]struct{}{}}
}

func (f *feed) publish(ev sd.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	// An error leaves the last known instances in place for those who subscribe later, as the
	// Endpointers already subscribed keep theirs.
	if ev.Err == nil || f.last == nil || f.last.Err != nil {
		f.last = &ev
	}
	for ch := range f.subs {
		ch <- clone(ev)
	}
	if ev.Err == nil {
		f.first.Do(func() { close(f.ready) })
	}
}

func clone(ev sd.Event) sd.Event {
	ev.Instances = slices.Clone(ev.Instances)
	return ev
}

// Ready is closed once the registry has answered a query, with instances or with none: from then
// on the subscribers know what there is to know. A query that fails (a registry not serving yet)
// is not an answer. A service that depends on another can report itself ready only then, so that
// its first requests do not fail for want of a lookup: a system started all at once is not ready
// while its registry was still starting when the service first asked.
func (f *feed) Ready() <-chan struct{} { return f.ready }

// Register implements sd.Instancer: ch gets the current state at once, if there is one yet.
func (f *feed) Register(ch chan<- sd.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs[ch] = struct{}{}
	if f.last != nil {
		ch <- clone(*f.last)
	}
}

// Deregister implements sd.Instancer.
func (f *feed) Deregister(ch chan<- sd.Event) {
	f.mu.Lock()
	delete(f.subs, ch)
	f.mu.Unlock()
}
