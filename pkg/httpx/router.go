package httpx

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"
)

// NewRouter returns a gorilla/mux router whose unknown routes answer 404 and whose wrong methods
// answer 405 with an Allow header, both with JSON error bodies.
//
// A path that is not clean (see UncleanPath: "..", "." or empty segments) is an unknown route
// too. gorilla/mux would otherwise answer it with a 301 to the cleaned path, an empty answer that
// API clients follow blindly and that turns "/students/1/../2" into another resource; the
// router's NotFoundHandler (whatever it is when the request arrives, so a service may replace
// it with a page of its own) answers it instead.
func NewRouter() *mux.Router {
	r := mux.NewRouter().SkipClean(true)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		Error(w, http.StatusNotFound, "no such route: "+req.Method+" "+req.URL.Path)
	})
	r.MethodNotAllowedHandler = MethodNotAllowed(r)
	// The first route wins, so no route added later sees an unclean path.
	r.MatcherFunc(func(req *http.Request, _ *mux.RouteMatch) bool { return UncleanPath(req.URL.Path) }).
		Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { r.NotFoundHandler.ServeHTTP(w, req) }))
	return r
}

// UncleanPath reports whether path (as decoded, so "%2e%2e" counts as "..") is one that
// path.Clean would change, apart from a trailing slash: it does not start with "/", or it has a
// "." or ".." segment, or an empty segment ("//"). No route of any service has such a path, and
// none may be redirected to a cleaned one.
func UncleanPath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return true
	}
	segs := strings.Split(p[1:], "/")
	for i, seg := range segs {
		switch seg {
		case ".", "..":
			return true
		case "":
			// "/" and a trailing slash leave one empty last segment; any other is "//".
			if i != len(segs)-1 {
				return true
			}
		}
	}
	return false
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
