package registry

import (
	"embed"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/pkg/text"
)

//go:embed templates/page.html
var templateFS embed.FS

// parsePage parses the status page's template, once per Hub: a parsed template is read-only, so
// every request shares it.
func parsePage() *template.Template {
	return template.Must(template.New("page.html").Funcs(template.FuncMap{
		"ago": func(t time.Time) string {
			if t.IsZero() {
				return "–"
			}
			d := time.Since(t)
			switch {
			case d < time.Second:
				return "just now"
			case d < time.Minute:
				return d.Truncate(time.Second).String() + " ago"
			case d < time.Hour:
				return d.Truncate(time.Minute).String() + " ago"
			default:
				return d.Truncate(time.Hour).String() + " ago"
			}
		},
	}).ParseFS(templateFS, "templates/page.html"))
}

type pageData struct {
	Index    uint64
	Now      time.Time
	Total    int
	Passing  int
	Groups   []pageGroup
	Listen   string
	Interval string
}

type pageGroup struct {
	Name      string
	Passing   int
	Instances []pageInstance
}

type pageInstance struct {
	ID, Address, Status, Protocol string
	Tags                          []string
	Checks                        []pageCheck
	Since                         time.Time
}

type pageCheck struct {
	ID, Name, Kind, Status, Output string
	Interval                       time.Duration
	Since                          time.Time
}

// worst orders statuses so that an instance shows its most serious check.
func worst(a, b string) string {
	rank := map[string]int{api.HealthPassing: 0, api.HealthWarning: 1, api.HealthCritical: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

func (c *Catalog) page() pageData {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := pageData{Index: c.index, Now: time.Now()}
	groups := map[string]*pageGroup{}
	for _, svc := range c.sortedServicesLocked() {
		g := groups[svc.Service.Service]
		if g == nil {
			g = &pageGroup{Name: svc.Service.Service}
			groups[g.Name] = g
		}
		in := pageInstance{ID: svc.Service.ID, Tags: svc.Service.Tags, Status: api.HealthPassing, Since: svc.Since, Protocol: "consul"}
		in.Address = svc.providerURL()
		if svc.Course != nil {
			in.Protocol = "seed" // as the page has always labelled it, and as Meta "protocol" says
		}
		for _, cid := range svc.CheckIDs {
			cs := c.checks[cid]
			in.Status = worst(in.Status, cs.Status)
			if cs.Since.After(in.Since) {
				in.Since = cs.Since
			}
			in.Checks = append(in.Checks, pageCheck{ID: cid, Name: cs.Def.Name, Kind: cs.Def.kind(), Status: cs.Status,
				Output: text.Clip(cs.Output, 300), Interval: cs.Def.Interval, Since: cs.Since})
		}
		if in.Status == api.HealthPassing {
			g.Passing++
			d.Passing++
		}
		d.Total++
		g.Instances = append(g.Instances, in)
	}
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		d.Groups = append(d.Groups, *groups[name])
	}
	return d
}

func (h *Hub) handlePage(w http.ResponseWriter, r *http.Request) {
	d := h.cat.page()
	d.Listen = h.Addr()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := h.page.Execute(w, d); err != nil {
		h.logger.Log("msg", "could not render the status page", "err", err)
	}
}
