package server

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/pkg/discovery"
	"github.com/gradebook/gradebook/pkg/service"
)

// storeCheckTimeout bounds the one look at the registry that follows registration.
const storeCheckTimeout = 5 * time.Second

// warnOfOtherStores looks once at the instances registered under the service's name (self is
// this instance's registration) and warns when some of them serve another store. Consumers use
// the instances of one store only, the one discovery.GroupBy chooses, so either this instance or
// the others get no requests, and whoever runs them should know at once. The HTTP registrations
// are enough: every instance has one, with the same metadata as its gRPC one.
func warnOfOtherStores(shutdown context.Context, rt *service.Runtime, self, storeID string) {
	ctx, cancel := context.WithTimeout(shutdown, storeCheckTimeout)
	defer cancel()
	entries, _, err := rt.Consul.Health().Service(rt.Config.Name, "http", false, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		if shutdown.Err() != nil {
			return // the service is stopping: nobody will send it requests anyway
		}
		level.Warn(rt.Logger).Log("msg", "could not look for instances that serve another store", "err", err)
		return
	}
	// Consumers see passing instances only; this one counts already, though its first check may
	// not have passed yet.
	entries = slices.DeleteFunc(entries, func(e *api.ServiceEntry) bool {
		return e.Service.ID != self && e.Checks.AggregatedStatus() != api.HealthPassing
	})
	groups := discovery.GroupBy(entries, grading.StoreIDMeta)
	if len(groups) < 2 {
		return
	}
	warn := level.Warn(log.With(rt.Logger, "store", storeID, "used_store", groups[0].ID,
		"stores", discovery.Describe(grading.StoreIDMeta, groups)))
	if groups[0].ID != storeID {
		warn.Log("msg", fmt.Sprintf("other %s instances serve a different store, and consumers use theirs: this instance will get no requests. "+
			"Instances that serve together must share one store.", rt.Config.Name))
		return
	}
	warn.Log("msg", fmt.Sprintf("other %s instances serve a different store; consumers now use this instance's store, and what the others hold is no longer shown. "+
		"Instances that serve together must share one store.", rt.Config.Name))
}
