package portal

import (
	"slices"
	"sync"

	"github.com/go-kit/kit/sd"
)

// fanout shares one sd.Instancer among several subscribers, giving each its own copy of every
// instance list. go-kit's Endpointer sorts the list it receives in place, and an Instancer hands
// the same slice to every subscriber, so several Endpointers on one Instancer (one per method, as
// here) would otherwise race on it.
type fanout struct {
	src  sd.Instancer
	in   chan sd.Event
	done chan struct{}
	stop sync.Once

	mu   sync.Mutex
	subs map[chan<- sd.Event]struct{}
	last *sd.Event
}

var _ sd.Instancer = (*fanout)(nil)

// newFanout subscribes to src; Stop ends the subscription and the goroutine that relays it.
func newFanout(src sd.Instancer) *fanout {
	f := &fanout{src: src, in: make(chan sd.Event), done: make(chan struct{}), subs: map[chan<- sd.Event]struct{}{}}
	go f.relay()
	src.Register(f.in)
	return f
}

func (f *fanout) relay() {
	defer close(f.done)
	for ev := range f.in {
		f.mu.Lock()
		f.last = &ev
		for ch := range f.subs {
			ch <- clone(ev)
		}
		f.mu.Unlock()
	}
}

func clone(ev sd.Event) sd.Event {
	ev.Instances = slices.Clone(ev.Instances)
	return ev
}

// Register implements sd.Instancer: ch gets the current state at once, as go-kit's own do.
func (f *fanout) Register(ch chan<- sd.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs[ch] = struct{}{}
	if f.last != nil {
		ch <- clone(*f.last)
	}
}

// Deregister implements sd.Instancer.
func (f *fanout) Deregister(ch chan<- sd.Event) {
	f.mu.Lock()
	delete(f.subs, ch)
	f.mu.Unlock()
}

// Stop ends the subscription to the source; the source itself stays with its owner.
func (f *fanout) Stop() {
	f.stop.Do(func() {
		f.src.Deregister(f.in)
		close(f.in)
		<-f.done
	})
}
