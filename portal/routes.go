package portal

import (
	"net/http"
	"strings"

	"github.com/go-kit/log"
	"github.com/gorilla/mux"
	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/httpserver"
	"github.com/gradebook/gradebook/logging/logclient"
	"github.com/gradebook/gradebook/openapi"
	"github.com/gradebook/gradebook/pkg/discovery"
	"github.com/gradebook/gradebook/pkg/httpx"
)

// Deps is what the portal's handlers are built over.
type Deps struct {
	// Grading is the grading service's endpoints: the load-balanced ones in production. The
	// pages call them, and /api/v1 serves grading's own HTTP handlers over them.
	Grading grading.Endpoints
	// Registry is read by /status; nil makes the page say there is none.
	Registry *api.Client
	// Logs reads recent log entries for /status; nil makes the page say there are none.
	Logs *logclient.Reader
	// GradingGroups is how the grading instances divide by the store they serve, the group the
	// Grading endpoints use first (a discovery.GroupedInstancer's Groups). /status says when they
	// hold different data; nil when the instances are not grouped.
	GradingGroups func() []discovery.Group
	// TracingUI is the base URL of a tracing UI (Jaeger's); /status links each log line that
	// carries a trace_id to URL/trace/<trace_id>. Empty: no links.
	TracingUI string
	Logger    log.Logger
	// SignIn configures teacher sign-in; nil (or nil Users) leaves the portal open.
	SignIn *SignIn
	// CrossOrigin is the protection against cross-origin writes that the portal's refusals are
	// given to: the runtime's, which guards every route; nil makes one for these routes alone.
	CrossOrigin *http.CrossOriginProtection
}

// AddRoutes puts the portal's whole surface on r: the pages, the stylesheet and the /api/v1
// gateway. Cross-origin writes are refused everywhere, so a page elsewhere cannot post a form
// here on a teacher's behalf.
func AddRoutes(r *mux.Router, d Deps) error {
	tmpl, err := parseTemplates()
	if err != nil {
		return err
	}
	if d.Logger == nil {
		d.Logger = log.NewNopLogger()
	}
	g := newGate(d.SignIn, d.Logger)
	// Whoever makes the request, a teacher or the API's token, is who enters a grade, on the
	// pages and through /api/v1 alike.
	d.Grading.AddGradeEndpoint = stampEnteredBy(d.Grading.AddGradeEndpoint)
	stampChangedBy(&d.Grading)
	p := &pages{
		open:   g.open(),
		svc:    d.Grading,
		status: &statusSource{registry: d.Registry, logs: d.Logs, groups: d.GradingGroups, tracingUI: strings.TrimSuffix(d.TracingUI, "/")},
		tmpl:   tmpl,
		logger: d.Logger,
	}

	cop := d.CrossOrigin
	if cop == nil {
		cop = http.NewCrossOriginProtection()
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if isAPI(req) {
			httpx.Error(w, http.StatusForbidden, "cross-origin requests that change data are refused")
			return
		}
		p.problem(w, req, http.StatusForbidden, problemPage{
			Title:     "Form refused",
			Detail:    "This form was sent from another site, so it was not accepted. Use the form on this site.",
			Back:      "/students",
			BackLabel: "Go to the students",
		})
	}))
	page := func(h http.HandlerFunc) http.Handler { return cop.Handler(securityHeaders(g.pages(h))) }
	// The sign-in routes need no session, but refuse cross-origin posts like every form.
	s := &signin{gate: g, pages: p}
	public := func(h http.HandlerFunc) http.Handler { return cop.Handler(securityHeaders(h)) }

	r.Handle("/", page(p.home)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/students", page(p.listStudents)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/students", page(p.addStudent)).Methods(http.MethodPost)
	r.Handle("/students/{id}", page(p.showStudent)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/students/{id}/history", page(p.showHistory)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/students/{id}/grades", page(p.addGrade)).Methods(http.MethodPost)
	r.Handle("/status", page(p.showStatus)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/login", public(s.showLogin)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/login", public(s.login)).Methods(http.MethodPost)
	r.Handle("/logout", public(s.logout)).Methods(http.MethodPost)
	r.PathPrefix("/static/").Handler(staticHandler()).Methods(http.MethodGet, http.MethodHead)
	p.addChangeRoutes(r, page)
	// Ahead of the gateway's own GET /students: the class as CSV for a client that asks for it,
	// and the API's OpenAPI document, which anyone may read.
	r.Handle("/api/v1/students", cop.Handler(g.api(http.HandlerFunc(p.apiCSV)))).Methods(http.MethodGet).MatcherFunc(prefersCSV)
	doc, err := openapi.Portal()
	if err != nil {
		return err
	}
	r.Handle("/api/v1/openapi.json", openapi.Handler(doc)).Methods(http.MethodGet, http.MethodHead)

	// The API gateway: grading's own routes and codecs (listed at httpserver.Routes) under
	// /api/v1, answering exactly as grading does (its statuses for business errors, 503 when no
	// instance could serve), over the balanced endpoints. They are mounted route by route rather
	// than as a subrouter, whose wrong-method answers gorilla/mux turns into 404s.
	for _, rt := range httpserver.Routes(d.Grading, d.Logger) {
		r.Handle("/api/v1"+rt.Path, cop.Handler(g.api(rt.Handler))).Methods(rt.Method)
	}

	// Unknown pages get a page a person can read; unknown API routes keep the router's JSON.
	jsonNotFound := r.NotFoundHandler
	if jsonNotFound == nil {
		jsonNotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			httpx.Error(w, http.StatusNotFound, "no such route: "+req.Method+" "+req.URL.Path)
		})
	}
	pageNotFound := securityHeaders(http.HandlerFunc(p.notFound))
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if isAPI(req) {
			jsonNotFound.ServeHTTP(w, req)
			return
		}
		pageNotFound.ServeHTTP(w, req)
	})
	return nil
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }
