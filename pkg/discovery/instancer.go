package discovery

import (
	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/hashicorp/consul/api"
)

// Instancer is an sd.Instancer for the passing instances of one service. It does what go-kit's
// sd/consul Instancer does, differing in what matters to a service:
//   - NewInstancer never blocks: go-kit's constructor makes its first query synchronously;
//   - every subscriber gets its own copy of each instance list;
//   - it logs each instance that appears or disappears;
//   - Stop cancels the query in flight, so nothing outlives it.
//
// When the registry is unreachable, subscribers get one error event and keep the instances they
// last knew. Share one per dependency.
type Instancer struct {
	watcher
}

var _ sd.Instancer = (*Instancer)(nil)

// NewInstancer subscribes to the passing instances of name that carry every tag in tags.
func NewInstancer(c *api.Client, name string, tags []string, logger log.Logger) *Instancer {
	in := &Instancer{}
	in.start(c, name, tags, logger, func(_ log.Logger, entries []*api.ServiceEntry) []string {
		return addresses(entries)
	})
	return in
}
