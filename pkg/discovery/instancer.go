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

// Instancer is a go-kit sd/consul Instancer for the passing instances of one service, which also
// logs each instance that appears or disappears. Share one per dependency.
type Instancer struct {
	*sdconsul.Instancer
	events chan sd.Event
	done   chan struct{}
	once   sync.Once
}

var _ sd.Instancer = (*Instancer)(nil)

// NewInstancer subscribes to the passing instances of name that carry every tag in tags.
func NewInstancer(c *api.Client, name string, tags []string, logger log.Logger) *Instancer {
	sdLogger := level.Debug(log.With(logger, "component", "sd"))
	in := &Instancer{
		Instancer: sdconsul.NewInstancer(sdconsul.NewClient(c), sdLogger, name, tags, true),
		events:    make(chan sd.Event, 1),
		done:      make(chan struct{}),
	}
	in.Instancer.Register(in.events)
	go in.watch(log.With(logger, "dependency", name))
	return in
}

func (in *Instancer) watch(logger log.Logger) {
	defer close(in.done)
	var known []string
	for ev := range in.events {
		if ev.Err != nil {
			continue // the last known instances stay in use; sd logs the error at debug level
		}
		now := slices.Clone(ev.Instances)
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
		known = now
	}
}

// Stop ends the subscription and the blocking-query loop behind it.
func (in *Instancer) Stop() {
	in.once.Do(func() {
		in.Instancer.Deregister(in.events)
		close(in.events)
		in.Instancer.Stop()
		<-in.done
	})
}
