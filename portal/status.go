package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/sd"
	"github.com/go-kit/kit/sd/lb"
	"github.com/go-kit/log"
	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/httpx"
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
	logs     endpoint.Endpoint
}

type (
	statusPage struct {
		Nav           string
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
	}
	logView struct {
		Time, Service, Level, Msg, Fields string
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
		addr := e.Service.Address
		if addr == "" && e.Node != nil {
			addr = e.Node.Address
		}
		v.Address = fmt.Sprintf("%s:%d", addr, e.Service.Port)
	}
	for _, c := range e.Checks {
		if out := strings.TrimSpace(c.Output); out != "" {
			v.Output = clip(out, 120)
			break
		}
	}
	return v
}

func (s *statusSource) recentLogs(ctx context.Context) ([]logView, error) {
	if s == nil || s.logs == nil {
		return nil, errors.New("no log service is configured")
	}
	resp, err := s.logs(ctx, logsRequest{Limit: logLines})
	if err != nil {
		return nil, err
	}
	entries := resp.([]map[string]any)
	views := make([]logView, 0, len(entries))
	// Newest first: the page is read from the top.
	for i := len(entries) - 1; i >= 0; i-- {
		views = append(views, newLogView(entries[i]))
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
	v.Fields = clip(strings.Join(rest, " "), 400)
	return v
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

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// logsRequest asks a log instance for its latest entries.
type logsRequest struct{ Limit int }

// newLogsEndpoint reads recent entries from whichever log instance the Instancer knows, trying
// a second one if the first fails (a read is safe to repeat). The Endpointer is returned so the
// caller can close it.
func newLogsEndpoint(instancer sd.Instancer, client *http.Client, logger log.Logger) (endpoint.Endpoint, *sd.DefaultEndpointer) {
	factory := func(instance string) (endpoint.Endpoint, io.Closer, error) {
		base := "http://" + instance
		if strings.Contains(instance, "://") {
			base = instance
		}
		return func(ctx context.Context, request any) (any, error) {
			req := request.(logsRequest)
			hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/v1/logs?limit=%d", base, req.Limit), nil)
			if err != nil {
				return nil, err
			}
			httpx.SetRequestID(ctx, hreq)
			resp, err := client.Do(hreq)
			if err != nil {
				return nil, err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
				return nil, fmt.Errorf("log service answered %s", resp.Status)
			}
			var entries []map[string]any
			if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&entries); err != nil {
				return nil, fmt.Errorf("log service answered unreadable JSON: %w", err)
			}
			return entries, nil
		}, nil, nil
	}
	endpointer := sd.NewEndpointer(instancer, factory, log.With(logger, "dependency", "log"))
	retry := lb.Retry(2, statusTimeout, lb.NewRoundRobin(endpointer))
	return func(ctx context.Context, request any) (any, error) {
		resp, err := retry(ctx, request)
		if err != nil {
			return nil, errs.New(errs.ErrUnavailable, "the log service is unavailable: "+err.Error())
		}
		return resp, nil
	}, endpointer
}
