package registry

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"
	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/httpx"
)

// Blocking-query waits, as Consul bounds them.
const (
	defaultWait = 5 * time.Minute
	maxWait     = 10 * time.Minute
	// flushWait bounds how long a write waits for its change to reach the disk.
	flushWait = 10 * time.Second
)

// routes lists the hub's whole HTTP surface (beside /health and /metrics from pkg/service).
func (h *Hub) routes() {
	r := h.rt.Router
	r.Use(h.consulHeaders)
	put := func(path string, f http.HandlerFunc) { r.HandleFunc(path, f).Methods(http.MethodPut) }
	get := func(path string, f http.HandlerFunc) { r.HandleFunc(path, f).Methods(http.MethodGet, http.MethodHead) }

	put("/v1/agent/service/register", h.handleRegister)
	put("/v1/agent/service/deregister/{id:.+}", h.handleDeregister)
	put("/v1/agent/check/pass/{id:.+}", h.handleTTL(api.HealthPassing))
	put("/v1/agent/check/warn/{id:.+}", h.handleTTL(api.HealthWarning))
	put("/v1/agent/check/fail/{id:.+}", h.handleTTL(api.HealthCritical))
	put("/v1/agent/check/update/{id:.+}", h.handleTTLUpdate)
	get("/v1/agent/services", h.handleAgentServices)
	get("/v1/agent/service/{id:.+}", h.handleAgentService)
	get("/v1/agent/checks", h.handleAgentChecks)
	get("/v1/health/service/{name:.+}", h.handleHealthService)
	get("/v1/catalog/services", h.handleCatalogServices)
	get("/v1/status/leader", h.handleLeader)
	get("/v1/agent/self", h.handleAgentSelf)
	get("/", h.handlePage)
	r.HandleFunc("/services", h.handleCourseRegister).Methods(http.MethodPost)
	r.HandleFunc("/services", h.handleCourseDeregister).Methods(http.MethodDelete)
	// The course's services send the URL to deregister as a bare text body; every other write
	// with a body is JSON, and must say so.
	h.rt.NotJSON(http.MethodDelete, "/services")
}

// consulHeaders gives every answer the headers consul/api reads: an index that never goes
// backwards and is at least 1, and the contact and leader headers without which consul/api
// rejects a query answer. Handlers that answer a blocking query overwrite the index.
func (h *Hub) consulHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Consul-Index", strconv.FormatUint(h.cat.Index(), 10))
		hd.Set("X-Consul-LastContact", "0")
		hd.Set("X-Consul-KnownLeader", "true")
		next.ServeHTTP(w, r)
	})
}

func setIndex(w http.ResponseWriter, index uint64) {
	w.Header().Set("X-Consul-Index", strconv.FormatUint(max(index, 1), 10))
}

// acknowledge waits until the change of generation gen is on disk, then answers 200.
func (h *Hub) acknowledge(w http.ResponseWriter, r *http.Request, gen uint64, body any) {
	ctx, cancel := context.WithTimeout(r.Context(), flushWait)
	defer cancel()
	if err := h.store.wait(ctx, gen); err != nil {
		httpx.WriteError(w, saveError(err))
		return
	}
	setIndex(w, h.cat.Index())
	if body == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, body)
}

func (h *Hub) handleRegister(w http.ResponseWriter, r *http.Request) {
	body, err := httpx.ReadBody(w, r)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	svc, checks, err := decodeRegistration(body)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	gen, err := h.register(svc, checks)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	h.acknowledge(w, r, gen, nil)
}

func (h *Hub) handleDeregister(w http.ResponseWriter, r *http.Request) {
	gen, err := h.deregister(mux.Vars(r)["id"])
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	h.acknowledge(w, r, gen, nil)
}

// handleTTL is PUT /v1/agent/check/{pass,warn,fail}/{id}?note=.
func (h *Hub) handleTTL(status string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h.cat.updateTTL(mux.Vars(r)["id"], status, r.URL.Query().Get("note")); err != nil {
			httpx.WriteError(w, err)
			return
		}
		setIndex(w, h.cat.Index())
		w.WriteHeader(http.StatusOK)
	}
}

// handleTTLUpdate is PUT /v1/agent/check/update/{id} with {"Status","Output"}.
func (h *Hub) handleTTLUpdate(w http.ResponseWriter, r *http.Request) {
	var u struct{ Status, Output string }
	if err := httpx.DecodeJSON(w, r, &u); err != nil {
		httpx.WriteError(w, err)
		return
	}
	status, ok := normalizeStatus(u.Status)
	if !ok {
		httpx.WriteError(w, errs.FieldErrors{"Status": fmt.Sprintf("%q: want passing, warning or critical", u.Status)})
		return
	}
	if err := h.cat.updateTTL(mux.Vars(r)["id"], status, u.Output); err != nil {
		httpx.WriteError(w, err)
		return
	}
	setIndex(w, h.cat.Index())
	w.WriteHeader(http.StatusOK)
}

func (h *Hub) handleAgentServices(w http.ResponseWriter, r *http.Request) {
	svcs, idx := h.cat.agentServices()
	setIndex(w, idx)
	httpx.WriteJSON(w, http.StatusOK, svcs)
}

func (h *Hub) handleAgentService(w http.ResponseWriter, r *http.Request) {
	svc, idx, err := h.cat.agentService(mux.Vars(r)["id"])
	setIndex(w, idx)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	w.Header().Set("X-Consul-ContentHash", svc.ContentHash)
	httpx.WriteJSON(w, http.StatusOK, svc)
}

func (h *Hub) handleAgentChecks(w http.ResponseWriter, r *http.Request) {
	checks, idx := h.cat.agentChecks()
	setIndex(w, idx)
	httpx.WriteJSON(w, http.StatusOK, checks)
}

// handleHealthService is the blocking query go-kit's Instancer runs:
// GET /v1/health/service/{name}?passing&tag=...&index=&wait=.
func (h *Hub) handleHealthService(w http.ResponseWriter, r *http.Request) {
	name := mux.Vars(r)["name"]
	q := r.URL.Query()
	index, wait, err := blockingParams(q)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	passing := false
	if v, ok := q["passing"]; ok {
		// Consul reads a bare ?passing as true, and consul/api sends passing=1.
		passing = len(v) == 0 || v[0] == "" || (v[0] != "0" && v[0] != "false")
	}
	h.cat.wait(r.Context(), name, index, wait)
	entries, idx := h.cat.serviceEntries(name, q["tag"], passing)
	setIndex(w, idx)
	httpx.WriteJSON(w, http.StatusOK, entries)
}

func (h *Hub) handleCatalogServices(w http.ResponseWriter, r *http.Request) {
	index, wait, err := blockingParams(r.URL.Query())
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	h.cat.wait(r.Context(), "", index, wait)
	svcs, idx := h.cat.catalogServices()
	setIndex(w, idx)
	httpx.WriteJSON(w, http.StatusOK, svcs)
}

func (h *Hub) handleLeader(w http.ResponseWriter, r *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, h.rt.Config.Advertise)
}

// handleAgentSelf answers the part of Consul's /v1/agent/self that clients read: Config's
// Datacenter and NodeName (consul/api's Agent().NodeName(), and Prometheus's Consul discovery,
// which asks for the datacenter before anything else) and the Member the agent is in the cluster.
// The hub is its one node and the server of its one datacenter.
func (h *Hub) handleAgentSelf(w http.ResponseWriter, r *http.Request) {
	port := 0
	if _, p, err := net.SplitHostPort(h.rt.Config.Advertise); err == nil {
		port, _ = strconv.Atoi(p)
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"Config": map[string]any{
			"Datacenter":        datacenter,
			"PrimaryDatacenter": datacenter,
			"NodeName":          nodeName,
			"Server":            true,
		},
		"Member": map[string]any{
			"Name":   nodeName,
			"Addr":   nodeAddr,
			"Port":   port,
			"Tags":   map[string]string{"dc": datacenter, "role": "node"},
			"Status": 1, // alive, in Serf's numbering
		},
		"Meta": map[string]string{},
	})
}

// blockingParams reads ?index= and ?wait= as Consul does.
func blockingParams(q map[string][]string) (index uint64, wait time.Duration, err error) {
	wait = defaultWait
	if v := first(q["index"]); v != "" {
		index, err = strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, 0, errs.FieldErrors{"index": fmt.Sprintf("%q is not a non-negative integer", v)}
		}
	}
	if v := first(q["wait"]); v != "" {
		d, err := parseDuration("wait", v)
		if err != nil {
			return 0, 0, errs.FieldErrors{"wait": err.Error()}
		}
		if d > 0 { // Consul reads wait=0 as the default
			wait = min(d, maxWait)
		}
	}
	return index, wait, nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
