package httpx

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gradebook/gradebook/pkg/requestid"
)

// RequestIDHeader carries a request's ID between services.
const RequestIDHeader = "X-Request-ID"

// WithRequestIDs keeps the caller's X-Request-ID (or makes one), puts it in the request's
// context for logs and downstream calls, and echoes it on the response.
func WithRequestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var id string
		if v := r.Header[requestIDKey]; len(v) > 0 {
			id = v[0]
		}
		if !requestid.Valid(id) {
			id = requestid.New()
		}
		w.Header()[requestIDKey] = []string{id}
		next.ServeHTTP(w, r.WithContext(requestid.NewContext(r.Context(), id)))
	})
}

// requestIDKey is RequestIDHeader as net/http keys it. Every request reads and writes it, and
// Header.Get and Header.Set would canonicalize the name each time, an allocation apiece.
const requestIDKey = "X-Request-Id"

// SetRequestID copies the request ID in ctx onto an outgoing request.
func SetRequestID(ctx context.Context, r *http.Request) {
	if id := requestid.FromContext(ctx); id != "" {
		r.Header[requestIDKey] = []string{id}
	}
}

// Recover turns a panic in a handler into a 500 JSON answer instead of a dropped connection,
// and reports the panic through onPanic.
func Recover(onPanic func(r *http.Request, v any), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				if onPanic != nil {
					onPanic(r, v)
				}
				Error(w, http.StatusInternalServerError, "internal error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// BearerToken returns the token a request carries in "Authorization: Bearer" or, as Consul
// clients send it, in X-Consul-Token.
func BearerToken(r *http.Request) string {
	if t := ParseBearer(r.Header.Get("Authorization")); t != "" {
		return t
	}
	return r.Header.Get("X-Consul-Token")
}

// ParseBearer returns the token of an "Authorization: Bearer <token>" value, or "".
func ParseBearer(authorization string) string {
	if len(authorization) > 7 && strings.EqualFold(authorization[:7], "bearer ") {
		return strings.TrimSpace(authorization[7:])
	}
	return ""
}

// TokenMatches compares a presented token with the expected one in constant time.
func TokenMatches(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// BearerTransport adds "Authorization: Bearer <Token>" to every request that has none, so that
// a service holding -token can write to the others.
type BearerTransport struct {
	Token string
	Base  http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *BearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.Token != "" && r.Header.Get("Authorization") == "" {
		// A RoundTripper must not change the request it is given: the copy gets a header map of
		// its own (the values, which nothing changes, are shared; Request.Clone would copy them
		// and the URL too, on every call).
		copied := *r
		copied.Header = make(http.Header, len(r.Header)+1)
		for k, v := range r.Header {
			copied.Header[k] = v
		}
		copied.Header["Authorization"] = []string{"Bearer " + t.Token}
		r = &copied
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// RequireTokenForWrites answers 401 to any request other than GET, HEAD or OPTIONS that does not
// carry token. An empty token turns the check off.
func RequireTokenForWrites(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			got := BearerToken(r)
			if got == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="gradebook"`)
				Error(w, http.StatusUnauthorized, "this write needs a token: send Authorization: Bearer <token>")
				return
			}
			if !TokenMatches(got, token) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="gradebook", error="invalid_token"`)
				Error(w, http.StatusUnauthorized, "the token is not valid")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
