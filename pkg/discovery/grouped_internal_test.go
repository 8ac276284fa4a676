package discovery

import (
	"fmt"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/hashicorp/consul/api"
)

// instance is a registered instance on 127.0.0.1:port, with store under the key "store_id"
// unless store is "-", which leaves the key out.
type instance struct {
	port  int
	store string
}

func entries(insts ...instance) []*api.ServiceEntry {
	out := make([]*api.ServiceEntry, 0, len(insts))
	for _, in := range insts {
		svc := &api.AgentService{ID: fmt.Sprintf("grading-%d", in.port), Service: "grading", Address: "127.0.0.1", Port: in.port}
		if in.store != "-" {
			svc.Meta = map[string]string{"store_id": in.store}
		}
		out = append(out, &api.ServiceEntry{Node: &api.Node{Address: "127.0.0.1"}, Service: svc})
	}
	return out
}

// TestGroupingRule follows the instances of a service through a few changes and checks, after
// each, the groups GroupBy makes (the used one first, as the log describes them) and what
// GroupedInstancer logs about them: a warning once per change of a split, a line when it ends,
// and nothing otherwise.
func TestGroupingRule(t *testing.T) {
	type step struct {
		instances []instance
		groups    string // Describe's line
		used      []string
		logged    string // "warn", "info" or "" (nothing)
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"one group", []step{
			{[]instance{{6001, "b"}, {6000, "b"}}, "b: 2 instances (used)", []string{"127.0.0.1:6000", "127.0.0.1:6001"}, ""},
		}},
		{"two groups of different sizes", []step{
			{[]instance{{6000, "a"}, {6001, "b"}, {6002, "b"}}, "b: 2 instances (used); a: 1 instance", []string{"127.0.0.1:6001", "127.0.0.1:6002"}, "warn"},
			{[]instance{{6000, "a"}, {6001, "b"}, {6002, "b"}}, "b: 2 instances (used); a: 1 instance", []string{"127.0.0.1:6001", "127.0.0.1:6002"}, ""},
		}},
		{"a tie is broken by the lower ID", []step{
			{[]instance{{6000, "b"}, {6001, "a"}}, "a: 1 instance (used); b: 1 instance", []string{"127.0.0.1:6001"}, "warn"},
			{[]instance{{6000, "b"}, {6001, "a"}, {6002, "b"}}, "b: 2 instances (used); a: 1 instance", []string{"127.0.0.1:6000", "127.0.0.1:6002"}, "warn"},
			{[]instance{{6000, "b"}, {6001, "a"}, {6002, "b"}, {6003, "a"}}, "a: 2 instances (used); b: 2 instances", []string{"127.0.0.1:6001", "127.0.0.1:6003"}, "warn"},
		}},
		{"instances without the key are a group like any other", []step{
			{[]instance{{6000, "-"}, {6001, "-"}, {6002, "a"}}, "without store_id: 2 instances (used); a: 1 instance", []string{"127.0.0.1:6000", "127.0.0.1:6001"}, "warn"},
			{[]instance{{6000, "-"}, {6002, "a"}, {6003, "a"}}, "a: 2 instances (used); without store_id: 1 instance", []string{"127.0.0.1:6002", "127.0.0.1:6003"}, "warn"},
			{[]instance{{6000, "-"}, {6002, "a"}}, "without store_id: 1 instance (used); a: 1 instance", []string{"127.0.0.1:6000"}, "warn"},
		}},
		{"a group disappearing", []step{
			{[]instance{{6000, "a"}, {6001, "b"}, {6002, "b"}}, "b: 2 instances (used); a: 1 instance", []string{"127.0.0.1:6001", "127.0.0.1:6002"}, "warn"},
			{[]instance{{6001, "b"}, {6002, "b"}}, "b: 2 instances (used)", []string{"127.0.0.1:6001", "127.0.0.1:6002"}, "info"},
			{[]instance{{6001, "b"}}, "b: 1 instance (used)", []string{"127.0.0.1:6001"}, ""},
		}},
		{"no instances", []step{
			{nil, "", nil, ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs strings.Builder
			logger := log.NewLogfmtLogger(&logs)
			var warned string
			for i, s := range tc.steps {
				logs.Reset()
				groups := GroupBy(entries(s.instances...), "store_id")
				if got := Describe("store_id", groups); got != s.groups {
					t.Errorf("step %d: groups %q, want %q", i, got, s.groups)
				}
				var used []string
				for j, g := range groups {
					if g.Used != (j == 0) {
						t.Errorf("step %d: group %d (%s) Used = %v", i, j, g.ID, g.Used)
					}
					if g.Used {
						used = g.Instances
					}
				}
				if fmt.Sprint(used) != fmt.Sprint(s.used) {
					t.Errorf("step %d: used instances %v, want %v", i, used, s.used)
				}
				warned = logGrouping(logger, "store_id", warned, groups)
				var logged string
				switch out := logs.String(); {
				case strings.Count(out, "\n") > 1:
					t.Errorf("step %d: logged more than one line:\n%s", i, out)
				case strings.Contains(out, "level=warn"):
					logged = "warn"
					if !strings.Contains(out, s.groups) || !strings.Contains(out, "used="+groups[0].ID) {
						t.Errorf("step %d: the warning does not name the groups and the one used:\n%s", i, out)
					}
				case strings.Contains(out, "level=info"):
					logged = "info"
				}
				if logged != s.logged {
					t.Errorf("step %d: logged %q, want %q: %s", i, logged, s.logged, logs.String())
				}
			}
		})
	}
}
