package httpx

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"
)

// NewRouter returns a gorilla/mux router whose unknown routes answer 404 and whose wrong methods
// answer 405 with an Allow header, both with JSON error bodies.
func NewRouter() *mux.Router {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		Error(w, http.StatusNotFound, "no such route: "+req.Method+" "+req.URL.Path)
	})
	r.MethodNotAllowedHandler = MethodNotAllowed(r)
	return r
}

var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// MethodNotAllowed answers 405 and lists in Allow the methods router does serve for the path.
func MethodNotAllowed(router *mux.Router) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var allowed []string
		for _, m := range methods {
			probe := req.Clone(req.Context())
			probe.Method = m
			var match mux.RouteMatch
			if router.Match(probe, &match) && match.MatchErr == nil {
				allowed = append(allowed, m)
			}
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		Error(w, http.StatusMethodNotAllowed, "method "+req.Method+" is not allowed on "+req.URL.Path+"; allowed: "+strings.Join(allowed, ", "))
	})
}
