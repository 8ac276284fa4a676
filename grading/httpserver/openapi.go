package httpserver

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/gradebook/gradebook/openapi"
)

// addOpenAPI serves the API's OpenAPI document at /openapi.json. It is not one of Routes: a
// gateway that mounts them serves a document of its own.
func addOpenAPI(r *mux.Router) {
	r.Handle("/openapi.json", openapi.Handler(openapi.Grading())).Methods(http.MethodGet, http.MethodHead)
}
