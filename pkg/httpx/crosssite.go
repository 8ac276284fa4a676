package httpx

import (
	"fmt"
	"mime"
	"net/http"
)

// JSONMediaType is the one media type a JSON write may carry.
const JSONMediaType = "application/json"

// IsSafeMethod reports whether method only reads: GET, HEAD, OPTIONS or TRACE. Every other
// method is a write.
func IsSafeMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// CarriesBody reports whether a request arrived with a body: a Content-Length above zero, or a
// Transfer-Encoding (chunked), whose length is only known once it has been read. A chunked body
// counts even when it turns out to be empty, since deciding otherwise would mean reading it
// first. Requests without either, such as the Consul API's check updates and deregistrations,
// carry none.
func CarriesBody(r *http.Request) bool {
	return r.ContentLength != 0 || len(r.TransferEncoding) > 0
}

// CheckJSONMediaType returns nil when a Content-Type value names application/json, with any
// parameters (charset=utf-8 is what most clients add) and in any case, and otherwise an error
// that says what was sent and what is expected.
func CheckJSONMediaType(contentType string) error {
	if contentType == "" {
		return fmt.Errorf("this request has a body but no Content-Type: send Content-Type: %s", JSONMediaType)
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("the Content-Type %q cannot be parsed (%v): send Content-Type: %s", contentType, err, JSONMediaType)
	}
	if mt != JSONMediaType {
		return fmt.Errorf("the Content-Type %q is not accepted here: send Content-Type: %s", mt, JSONMediaType)
	}
	return nil
}

// RequireJSON answers 415 with a JSON error to a write that carries a body whose Content-Type is
// not application/json, unless exempt (which may be nil) says the request's route takes another
// kind of body. Bodies other than JSON are what a browser may send to another site without
// asking it first (a "simple" request: text/plain, a form), so insisting on JSON keeps a page
// elsewhere from writing here with a plain form or fetch.
func RequireJSON(exempt func(*http.Request) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if IsSafeMethod(r.Method) || !CarriesBody(r) || (exempt != nil && exempt(r)) {
			next.ServeHTTP(w, r)
			return
		}
		if err := CheckJSONMediaType(r.Header.Get("Content-Type")); err != nil {
			w.Header().Set("Accept", JSONMediaType)
			Error(w, http.StatusUnsupportedMediaType, err.Error())
			return
		}
		next.ServeHTTP(w, r)
	})
}

// NewCrossOriginProtection returns net/http's protection against cross-origin writes (it reads
// Sec-Fetch-Site, then Origin against Host; requests with neither, from clients other than
// browsers, pass), answering a refusal with 403 and a JSON error. Its deny handler may be
// replaced before serving, as a service with pages of its own does.
func NewCrossOriginProtection() *http.CrossOriginProtection {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Error(w, http.StatusForbidden, CrossOriginRefusal)
	}))
	return cop
}

// CrossOriginRefusal is the error a refused cross-origin write gets.
const CrossOriginRefusal = "cross-origin requests that change data are refused"
