// Package openapitest is for tests only: an http.RoundTripper that checks every exchange a test
// makes against an OpenAPI document, so that the document cannot drift from the code.
package openapitest

import (
	"bytes"
	"context"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Load parses doc, checks that it is a valid OpenAPI document, and fails the test if not.
func Load(t testing.TB, doc []byte) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	d, err := loader.LoadFromData(doc)
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	if err := d.Validate(loader.Context); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	return d
}

// Transport checks each exchange it carries against an OpenAPI document:
//
//   - a request to an operation the document names must be valid by it, or else be refused
//     with a 4xx;
//   - every response to such an operation must be one the document gives it (status, headers,
//     content type and body, against the schemas);
//   - a request to an operation the document does not name must be answered 404 or 405 with
//     a JSON error: a route the code serves and the document leaves out fails the test.
//
// Failures are reported with t.Errorf, so a test sees every mismatch at once.
//
// Requests outside the document's server path (the pages beside an API under /api/v1, say) pass
// through unchecked.
type Transport struct {
	t      testing.TB
	router routers.Router
	prefix string
	base   http.RoundTripper
	mu     sync.Mutex
	seen   map[string]bool
}

// NewTransport checks the exchanges with the server at serverURL (http://host:port) against
// doc, whose first server's path (such as /api/v1) is the prefix its paths are served under.
// base carries them (http.DefaultTransport when nil).
func NewTransport(t testing.TB, doc []byte, serverURL string, base http.RoundTripper) *Transport {
	t.Helper()
	d := Load(t, doc)
	prefix := ""
	if len(d.Servers) > 0 {
		u, err := url.Parse(d.Servers[0].URL)
		if err != nil {
			t.Fatalf("the document's server %q: %v", d.Servers[0].URL, err)
		}
		prefix = strings.TrimSuffix(u.Path, "/")
	}
	d.Servers = openapi3.Servers{{URL: strings.TrimSuffix(serverURL, "/") + prefix}}
	router, err := gorillamux.NewRouter(d)
	if err != nil {
		t.Fatalf("route the OpenAPI document: %v", err)
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &Transport{t: t, router: router, prefix: prefix, base: base, seen: map[string]bool{}}
}

// CloseIdleConnections closes the idle connections of the transport underneath, as
// http.Client.CloseIdleConnections expects of a transport.
func (tr *Transport) CloseIdleConnections() {
	if c, ok := tr.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Operations are the operations (such as "PATCH /students/{id}/grades/{gradeID}") the transport
// has checked an exchange of.
func (tr *Transport) Operations() map[string]bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make(map[string]bool, len(tr.seen))
	for k := range tr.seen {
		out[k] = true
	}
	return out
}

// RoundTrip implements http.RoundTripper.
func (tr *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if tr.prefix != "" && req.URL.Path != tr.prefix && !strings.HasPrefix(req.URL.Path, tr.prefix+"/") {
		return tr.base.RoundTrip(req)
	}
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	withBody := func() *http.Request {
		r := req.Clone(req.Context())
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		return r
	}
	what := req.Method + " " + req.URL.RequestURI()

	route, params, routeErr := tr.router.FindRoute(withBody())
	var input *openapi3filter.RequestValidationInput
	var reqErr error
	if routeErr == nil {
		tr.mu.Lock()
		tr.seen[req.Method+" "+route.Path] = true
		tr.mu.Unlock()
		input = &openapi3filter.RequestValidationInput{
			Request: withBody(), PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		}
		reqErr = openapi3filter.ValidateRequest(context.Background(), input)
	}

	resp, err := tr.base.RoundTrip(withBody())
	if err != nil {
		return nil, err
	}
	rb, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(rb))

	switch {
	case routeErr != nil:
		mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if (resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed) || mt != "application/json" {
			tr.t.Errorf("OpenAPI: %s is not in the document (%v), but was answered %d %s: %.200s", what, routeErr, resp.StatusCode, resp.Header.Get("Content-Type"), rb)
		}
		return resp, nil
	case reqErr != nil:
		if resp.StatusCode < 400 || resp.StatusCode >= 500 {
			tr.t.Errorf("OpenAPI: %s is not valid by the document (%v), but was answered %d: %.200s", what, reqErr, resp.StatusCode, rb)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	out.SetBodyBytes(rb)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		tr.t.Errorf("OpenAPI: the answer to %s does not match the document: %v\n\tanswer: %d %s", what, err, resp.StatusCode, clip(rb))
	}
	return resp, nil
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
