package discovery

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/hashicorp/consul/api"
)

// view turns the registry's answer into the instances subscribers get ("host:port", sorted).
// It runs on the watcher's goroutine only, one answer at a time.
type view func(logger log.Logger, entries []*api.ServiceEntry) []string

// watcher is what every Instancer here is made of: a loop of blocking queries for the passing
// instances of one service, run through consul/api (the same requests against the hub and a
// Consul agent), whose answers a view turns into the instances published to subscribers.
// It owns its goroutine: Stop cancels the query in flight and waits for the loop to end.
type watcher struct {
	feed
	cancel context.CancelFunc
	done   chan struct{}
}

// start starts the loop and returns at once: the first query must not hold a service's start-up
// hostage to a slow registry (and the hub, which asks itself, would wait for a server that has
// not started yet).
func (w *watcher) start(c *api.Client, name string, tags []string, logger log.Logger, v view) {
	ctx, cancel := context.WithCancel(context.Background())
	w.feed, w.cancel, w.done = newFeed(), cancel, make(chan struct{})
	go w.run(ctx, c.Health(), name, slices.Clone(tags), log.With(logger, "dependency", name), v)
}

func (w *watcher) run(ctx context.Context, health *api.Health, name string, tags []string, logger log.Logger, v view) {
	defer close(w.done)
	var (
		index     uint64
		known     []string // the instances last published
		published bool
		failing   bool
		retry     = newBackoff(100*time.Millisecond, 5*time.Second)
	)
	for {
		q := (&api.QueryOptions{WaitIndex: index, WaitTime: QueryWait}).WithContext(ctx)
		entries, meta, err := health.ServiceMultipleTags(name, tags, true, q)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			// The last known instances stay in use: subscribers are told once per outage, and
			// the retries are logged at debug level only.
			level.Debug(logger).Log("msg", "registry query failed", "err", err)
			if !failing {
				failing = true
				w.publish(sd.Event{Err: fmt.Errorf("instances of %s: %w", name, err)})
			}
			if !sleep(ctx, retry.next()) {
				return
			}
			continue
		}
		retry.reset()
		index = nextIndex(index, meta.LastIndex)
		now := v(logger, entries)
		// A blocking query also answers when its wait runs out, or when something that does
		// not change the view did: subscribers hear only of changes.
		if published && !failing && slices.Equal(now, known) {
			continue
		}
		published, failing = true, false
		// Logged before they are published: whoever acts on the event finds the lines that say
		// what changed already written.
		known = logChanges(logger, known, now)
		w.publish(sd.Event{Instances: now})
	}
}

// nextIndex is the index of the next blocking query, as Consul's documentation asks: back to 0
// when the registry's index went backwards (a restarted hub or agent), and never 0 otherwise,
// which would answer at once, every time.
func nextIndex(prev, got uint64) uint64 {
	switch {
	case got < prev:
		return 0
	case got == 0:
		return 1
	default:
		return got
	}
}

// Stop ends the subscription and the blocking-query loop behind it, cancelling the query in
// flight; it returns once the loop has ended.
func (w *watcher) Stop() {
	w.cancel()
	<-w.done
}

// addresses are the sorted "host:port" of entries. A service registered without an address is
// reached at its node's, as Consul and go-kit's sd/consul have it.
func addresses(entries []*api.ServiceEntry) []string {
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, address(e))
	}
	slices.Sort(out)
	return out
}

func address(e *api.ServiceEntry) string {
	addr := e.Service.Address
	if addr == "" && e.Node != nil {
		addr = e.Node.Address
	}
	return fmt.Sprintf("%s:%d", addr, e.Service.Port)
}

// logChanges logs the instances that appeared in now or disappeared from known (both sorted),
// and returns now, to be known next time.
func logChanges(logger log.Logger, known, now []string) []string {
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
