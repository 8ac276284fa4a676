package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/logging/logclient"
	"github.com/gradebook/gradebook/pkg/discovery"
	"github.com/gradebook/gradebook/pkg/text"
)

// statusTimeout bounds each part of the status page, so that a sick registry or log service
// costs the page a message, not the teacher's patience.
const statusTimeout = 3 * time.Second

// logLines is how many recent log lines the status page shows.
const logLines = 50

// statusSource gathers the /status page: the registry's view of every service, and the log
// service's latest entries. Either may be nil, which the page reports.
type statusSource struct {
	registry *api.Client
	logs     *logclient.Reader
	// groups is how grading's instances divide by store; nil when unknown.
	groups func() []discovery.Group
	// tracingUI is the base URL log lines link their traces under; "" for no links.
	tracingUI string
}

type (
	statusPage struct {
		Nav string
		// Split is set when grading's instances hold different data.
		Split         *splitView
		Services      []serviceView
		RegistryError string
		Logs          []logView
		LogError      string
	}
	serviceView struct {
		Name      string
		Instances []instanceView
	}
	instanceView struct {
		ID, Address, Status, Output string
		// Store names the data the instance serves, for instances that say (grading's).
		Store string
	}
	// splitView says in plain words that grading's instances hold different data, and which
	// are used.
	splitView struct {
		Summary string
		Stores  []storeView
	}
	storeView struct {
		Store, Instances string
		Used             bool
	}
	logView struct {
		Time, Service, Level, Msg, Fields string
		// TraceURL is where the line's trace is shown, when it has one and a tracing UI is set.
		TraceURL string
	}
)

func (p *pages) showStatus(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), statusTimeout)
	defer cancel()
	page := statusPage{Nav: "status"}
	var wg sync.WaitGroup
	wg.Go(func() {
		var err error
		if page.Services, err = p.status.services(ctx); err != nil {
			page.RegistryError = "The registry could not be read: " + err.Error()
		}
	})
	wg.Go(func() {
		var err error
		if page.Logs, err = p.status.recentLogs(ctx); err != nil {
			page.LogError = "Recent log lines are not available: " + err.Error()
		}
	})
	wg.Wait()
	page.Split = p.status.split()
	p.render(w, r, http.StatusOK, "status", page)
}

// services lists every registered service with its instances and their aggregated health, the
// same way against the built-in hub and a Consul agent.
func (s *statusSource) services(ctx context.Context) ([]serviceView, error) {
	if s == nil || s.registry == nil {
		return nil, errors.New("no registry is configured")
	}
	q := (&api.QueryOptions{}).WithContext(ctx)
	catalog, _, err := s.registry.Catalog().Services(q)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(catalog))
	for name := range catalog {
		names = append(names, name)
	}
	sort.Strings(names)
	views := make([]serviceView, 0, len(names))
	for _, name := range names {
		entries, _, err := s.registry.Health().Service(name, "", false, q)
		if err != nil {
			return views, fmt.Errorf("health of %s: %w", name, err)
		}
		v := serviceView{Name: name}
		for _, e := range entries {
			v.Instances = append(v.Instances, newInstanceView(e))
		}
		slices.SortFunc(v.Instances, func(a, b instanceView) int { return strings.Compare(a.ID, b.ID) })
		views = append(views, v)
	}
	return views, nil
}

func newInstanceView(e *api.ServiceEntry) instanceView {
	v := instanceView{Status: e.Checks.AggregatedStatus()}
	if e.Service != nil {
		v.ID = e.Service.ID
		if id := e.Service.Meta[grading.StoreIDMeta]; id != "" {
			v.Store = storeName(id)
		}
		addr := e.Service.Address
		if addr == "" && e.Node != nil {
			addr = e.Node.Address
		}
		v.Address = fmt.Sprintf("%s:%d", addr, e.Service.Port)
	}
	for _, c := range e.Checks {
		if out := strings.TrimSpace(c.Output); out != "" {
			v.Output = text.Clip(out, 120)
			break
		}
	}
	return v
}

// split describes grading's instances when they hold different data, and is nil when they do not
// (or when nothing groups them).
func (s *statusSource) split() *splitView {
	if s == nil || s.groups == nil {
		return nil
	}
	groups := s.groups()
	if len(groups) < 2 {
		return nil
	}
	v := &splitView{}
	total := 0
	for _, g := range groups {
		total += len(g.Instances)
		v.Stores = append(v.Stores, storeView{
			Store:     storeName(g.ID),
			Instances: text.Count(len(g.Instances), "instance") + ": " + strings.Join(g.Instances, ", "),
			Used:      g.Used,
		})
	}
	// GroupBy puts the used group first.
	v.Summary = fmt.Sprintf("%d grading instances hold different data; only %s (%s) is used.",
		total, v.Stores[0].Store, text.Count(len(groups[0].Instances), "instance"))
	return v
}

// storeName names a store for people by its ID ("store bolt-3f2a9c1d0b7e4f12"), which says
// which kind of store it is; the instances that name none share "no named store".
func storeName(id string) string {
	if id == "" {
		return "no named store"
	}
	return "store " + id
}

func (s *statusSource) recentLogs(ctx context.Context) ([]logView, error) {
	if s == nil || s.logs == nil {
		return nil, errors.New("no log service is configured")
	}
	entries, err := s.logs.Recent(ctx, logLines)
	if err != nil {
		return nil, err
	}
	// Newest first: the page is read from the top. The log service answers in the order it
	// stored the entries, which is not quite their time order: each service ships its own
	// batches, several at once. Lines of the same instant keep the order they were stored in.
	type timed struct {
		at    time.Time
		entry map[string]any
	}
	byTime := make([]timed, 0, len(entries))
	for i := len(entries) - 1; i >= 0; i-- {
		at, _ := time.Parse(time.RFC3339Nano, str(entries[i]["time"]))
		byTime = append(byTime, timed{at, entries[i]})
	}
	sort.SliceStable(byTime, func(i, j int) bool { return byTime[i].at.After(byTime[j].at) })
	views := make([]logView, 0, len(entries))
	for _, e := range byTime {
		v := newLogView(e.entry)
		if id, _ := e.entry["trace_id"].(string); s.tracingUI != "" && isTraceID(id) {
			v.TraceURL = s.tracingUI + "/trace/" + id
		}
		views = append(views, v)
	}
	return views, nil
}

func newLogView(e map[string]any) logView {
	v := logView{Service: str(e["service"]), Level: str(e["level"]), Msg: str(e["msg"])}
	v.Time = str(e["time"])
	if t, err := time.Parse(time.RFC3339Nano, v.Time); err == nil {
		v.Time = t.Local().Format("15:04:05.000")
	}
	var rest []string
	for k, val := range e {
		switch k {
		case "time", "service", "level", "msg", "ts":
			continue
		}
		rest = append(rest, k+"="+str(val))
	}
	sort.Strings(rest)
	v.Fields = text.Clip(strings.Join(rest, " "), 400)
	return v
}

// isTraceID reports whether id is a W3C trace ID as log lines carry it: 32 lowercase hex digits,
// not all zero. Anything else is not put in a link.
func isTraceID(id string) bool {
	if len(id) != 32 || id == strings.Repeat("0", 32) {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func str(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}
