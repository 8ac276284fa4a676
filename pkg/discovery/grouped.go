package discovery

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/pkg/text"
)

// Group is a set of instances that carry the same value under a metadata key: for grading, the
// instances that serve the same store.
type Group struct {
	// ID is the instances' value under the key; "" for instances that lack the key.
	ID string
	// Instances are the group's "host:port", sorted.
	Instances []string
	// Used says that this is the group subscribers get.
	Used bool
}

// GroupBy sorts entries into groups by their value under the metadata key, and chooses the one
// to use: the group with the most instances and, on a tie, the one whose ID sorts first. The
// choice depends on nothing but what is registered, so that every consumer that sees the same
// instances chooses the same group. The chosen group comes first and the others follow, in the
// order of the same rule; no entries make no groups.
func GroupBy(entries []*api.ServiceEntry, key string) []Group {
	byID := map[string][]*api.ServiceEntry{}
	for _, e := range entries {
		id := e.Service.Meta[key]
		byID[id] = append(byID[id], e)
	}
	groups := make([]Group, 0, len(byID))
	for id, members := range byID {
		groups = append(groups, Group{ID: id, Instances: addresses(members)})
	}
	slices.SortFunc(groups, func(a, b Group) int {
		if c := cmp.Compare(len(b.Instances), len(a.Instances)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if len(groups) > 0 {
		groups[0].Used = true
	}
	return groups
}

// Describe says in a line what groups (as GroupBy returns them) hold, the used one first:
// "3f2a9c1d: 2 instances (used); 9e1b07aa: 1 instance". Instances that lack key are named
// "without <key>".
func Describe(key string, groups []Group) string {
	parts := make([]string, 0, len(groups))
	for _, g := range groups {
		id := g.ID
		if id == "" {
			id = "without " + key
		}
		part := fmt.Sprintf("%s: %s", id, text.Count(len(g.Instances), "instance"))
		if g.Used {
			part += " (used)"
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, "; ")
}

// GroupedInstancer is an sd.Instancer over the passing instances of one service that groups them
// by a metadata key and publishes only the group GroupBy chooses. It exists so that a consumer
// never balances across instances that hold different data (grading instances with stores of
// their own), which would show a teacher a grade that appears and vanishes from one request to
// the next. It shares everything else with Instancer: it never blocks on construction, copies
// each list for each subscriber, logs instances of the used group appearing and disappearing,
// keeps the last known instances while the registry is unreachable, and Stop ends it all.
//
// While the instances form several groups it warns, once per change of the grouping, naming the
// groups, their sizes and the one used; it says so when they form one group again.
type GroupedInstancer struct {
	watcher
	mu     sync.Mutex
	groups []Group
}

var _ sd.Instancer = (*GroupedInstancer)(nil)

// NewGroupedInstancer subscribes to the passing instances of name that carry every tag in tags,
// grouped by their metadata under key.
func NewGroupedInstancer(c *api.Client, name, key string, tags []string, logger log.Logger) *GroupedInstancer {
	g := &GroupedInstancer{}
	var warned string // the grouping last warned about; "" while there is at most one group
	g.start(c, name, tags, logger, func(logger log.Logger, entries []*api.ServiceEntry) []string {
		groups := GroupBy(entries, key)
		g.mu.Lock()
		g.groups = groups
		g.mu.Unlock()
		warned = logGrouping(logger, key, warned, groups)
		if len(groups) == 0 {
			return []string{}
		}
		return slices.Clone(groups[0].Instances)
	})
	return g
}

// Groups is the current grouping of the passing instances, the used group first; empty until the
// registry has answered, or when no instance passes.
func (g *GroupedInstancer) Groups() []Group {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := slices.Clone(g.groups)
	for i := range out {
		out[i].Instances = slices.Clone(out[i].Instances)
	}
	return out
}

// logGrouping warns when groups are several and differ from what was last warned about, says
// when they have become one again, and returns what it has now warned about.
func logGrouping(logger log.Logger, key, warned string, groups []Group) string {
	if len(groups) < 2 {
		if warned != "" {
			level.Info(logger).Log("msg", fmt.Sprintf("dependency instances no longer differ in their %s; every instance is used", key))
		}
		return ""
	}
	now := Describe(key, groups)
	if now != warned {
		level.Warn(logger).Log("msg", fmt.Sprintf("dependency instances differ in their %s; only the instances of one %s are used", key, key),
			"used", groups[0].ID, "groups", now)
	}
	return now
}
