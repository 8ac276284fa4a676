package tracing

import (
	"net/http"
	"strings"
	"sync"

	"github.com/gorilla/mux"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/pkg/requestid"
)

// untracedPaths make no server spans: health checks and scrapes come every few seconds and say
// nothing about a user's request.
var untracedPaths = []string{"/health", "/metrics"}

// Handler makes a server span of every request next serves, continuing the trace the request's
// traceparent names, except for /health, /metrics and paths that start with one of untraced.
// The span is named after the method until RouteName, on the router, names the route; it
// carries the request's ID once requestid is in the context (RecordRequestID). Without tracing,
// or on an untraced path, a caller's trace is still taken from the headers into the context,
// so that the log lines and the calls the request leads to carry it on.
//
// It is not otelhttp's Handler, which computes its metrics' attributes on every request even
// with no metrics configured: a cost every request would pay, sampled or not.
func (t *Tracing) Handler(next http.Handler, untraced ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if carriesPropagation(r.Header) {
			ctx = t.propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
		}
		if !t.Enabled() || !traced(r.URL.Path, untraced) {
			if ctx != r.Context() {
				r = r.WithContext(ctx)
			}
			next.ServeHTTP(w, r)
			return
		}
		ctx, span := t.tracer.Start(ctx, method(r.Method), trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		if !span.IsRecording() {
			// Not sampled: nothing will be recorded, so the status need not be watched.
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		sw := httpx.NewStatusWriter(w)
		next.ServeHTTP(sw, r.WithContext(ctx))
		span.SetAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path),
			attribute.Int("http.response.status_code", sw.Status))
		if sw.Status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(sw.Status))
		}
	})
}

// carriesPropagation reports whether h holds any header the propagator reads. Most requests
// carry none, and then there is nothing to extract: the propagator's own lookups would
// canonicalize each header name again, an allocation apiece, on every request.
func carriesPropagation(h http.Header) bool {
	// The headers of W3C trace context and baggage, as net/http keys them.
	_, tp := h["Traceparent"]
	_, ts := h["Tracestate"]
	_, bg := h["Baggage"]
	return tp || ts || bg
}

// method is the method as a span's name gives it: net/http accepts any token as a method, and
// span names must stay few, so the ones HTTP defines are kept and the rest read "HTTP".
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "HTTP"
}

// traced reports whether requests for path make server spans.
func traced(path string, untraced []string) bool {
	for _, p := range untracedPaths {
		if path == p {
			return false
		}
	}
	for _, p := range untraced {
		if strings.HasPrefix(path, p) {
			return false
		}
	}
	return true
}

// RouteName is a gorilla/mux middleware (router.Use) that names the request's server span after
// the route that matched, "GET /students/{id}", so that spans group by route, not by ID.
func RouteName(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			if cr := mux.CurrentRoute(r); cr != nil {
				if tpl, err := cr.GetPathTemplate(); err == nil {
					span.SetName(routeNames.get(method(r.Method), tpl))
					span.SetAttributes(attribute.String("http.route", tpl))
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// routeNames are the server spans' names, "GET /students/{id}", made once per route.
var routeNames spanNames

// spanNames holds span names made of a method and a route or a host, "GET /students/{id}" or
// "GET 127.0.0.1:5001", made once each rather than joined afresh on every sampled request. It
// keeps at most maxSpanNames of them (routes and hosts are few); past that, names are joined
// every time.
type spanNames struct {
	mu    sync.RWMutex
	names map[[2]string]string
}

const maxSpanNames = 256

// get returns method + " " + rest.
func (c *spanNames) get(method, rest string) string {
	k := [2]string{method, rest}
	c.mu.RLock()
	name, ok := c.names[k]
	c.mu.RUnlock()
	if ok {
		return name
	}
	name = method + " " + rest
	c.mu.Lock()
	if c.names == nil {
		c.names = make(map[[2]string]string)
	}
	if len(c.names) < maxSpanNames {
		c.names[k] = name
	}
	c.mu.Unlock()
	return name
}

// RequestIDKey is the attribute that carries a request's X-Request-ID on its server span.
const RequestIDKey = attribute.Key("request.id")

// RecordRequestID records the request's ID (which requestid put in its context) on its server
// span, so that a span can be found from a log line's request_id and the other way round.
func RecordRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			if id := requestid.FromContext(r.Context()); id != "" {
				span.SetAttributes(RequestIDKey.String(id))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Transport makes a client span of every call through base and sends the trace along in the
// traceparent (and baggage) headers. Without tracing, it still propagates a trace the context
// carries, so that a service that traces nothing does not break its callers' traces.
//
// It is not otelhttp's Transport, which computes its metrics' attributes on every call even
// with no metrics configured: a cost the gateway would pay on every request, sampled or not.
func (t *Tracing) Transport(base http.RoundTripper) http.RoundTripper {
	return &transport{base: base, t: t, tracer: t.tracer}
}

type transport struct {
	base   http.RoundTripper
	t      *Tracing
	tracer trace.Tracer
	names  spanNames
}

func (tr *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx := r.Context()
	var span trace.Span
	if tr.t.Enabled() {
		ctx, span = tr.tracer.Start(ctx, tr.names.get(method(r.Method), r.URL.Host), trace.WithSpanKind(trace.SpanKindClient))
		defer span.End()
	}
	if !trace.SpanContextFromContext(ctx).IsValid() && baggage.FromContext(ctx).Len() == 0 {
		return tr.base.RoundTrip(r)
	}
	// A RoundTripper must not change the request it is given: the headers go on a copy of its
	// header map, on a shallow copy of the request (Inject only adds keys, so the values the
	// two maps share are never written).
	h := make(http.Header, len(r.Header)+2)
	for k, v := range r.Header {
		h[k] = v
	}
	r = r.WithContext(ctx)
	r.Header = h
	tr.t.propagator.Inject(ctx, canonicalCarrier(h))
	resp, err := tr.base.RoundTrip(r)
	if span == nil || !span.IsRecording() {
		return resp, err
	}
	span.SetAttributes(attribute.String("http.request.method", r.Method), attribute.String("server.address", r.URL.Host),
		attribute.String("url.path", r.URL.Path))
	switch {
	case err != nil:
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	default:
		span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
		if resp.StatusCode >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
		}
	}
	return resp, err
}

// canonicalCarrier is a propagation carrier on an outgoing request's headers that sets the
// propagator's headers under their canonical keys directly, rather than canonicalizing each
// name afresh on every call as http.Header.Set does.
type canonicalCarrier http.Header

func (c canonicalCarrier) Get(key string) string { return http.Header(c).Get(key) }

func (c canonicalCarrier) Set(key, value string) {
	switch key {
	case "traceparent":
		c["Traceparent"] = []string{value}
	case "tracestate":
		c["Tracestate"] = []string{value}
	case "baggage":
		c["Baggage"] = []string{value}
	default:
		http.Header(c).Set(key, value)
	}
}

func (c canonicalCarrier) Keys() []string { return propagation.HeaderCarrier(c).Keys() }
