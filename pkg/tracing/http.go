package tracing

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"

	"github.com/gradebook/gradebook/pkg/requestid"
)

// untracedPaths make no server spans: health checks and scrapes
// come every few seconds and say nothing about a user's request.
var untracedPaths = []string{"/health", "/metrics"}

// Handler makes a server span of every request next serves, continuing the trace the request's
// traceparent names, except for /health, /metrics and paths that start with one of untraced.
// The span is named after the method until RouteName, on the router, names the route; it
// carries the request's ID once requestid is in the context (RecordRequestID).
func (t *Tracing) Handler(next http.Handler, untraced ...string) http.Handler {
	if !t.Enabled() {
		// The propagator still passes a caller's trace on, through the context, to the calls this
		// service makes.
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := t.propagator.Extract(r.Context(), propagationHeader(r.Header))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
	return otelhttp.NewHandler(next, "",
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithPropagators(t.propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
		otelhttp.WithFilter(func(r *http.Request) bool {
			for _, p := range untracedPaths {
				if r.URL.Path == p {
					return false
				}
			}
			for _, p := range untraced {
				if strings.HasPrefix(r.URL.Path, p) {
					return false
				}
			}
			return true
		}))
}

// RouteName is a gorilla/mux middleware (router.Use) that names the request's server span after
// the route that matched, "GET /students/{id}", so that spans group by route, not by ID.
func RouteName(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			if cr := mux.CurrentRoute(r); cr != nil {
				if tpl, err := cr.GetPathTemplate(); err == nil {
					span.SetName(r.Method + " " + tpl)
					span.SetAttributes(attribute.String("http.route", tpl))
				}
			}
		}
		next.ServeHTTP(w, r)
	})
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
func (t *Tracing) Transport(base http.RoundTripper) http.RoundTripper {
	return otelhttp.NewTransport(base,
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithPropagators(t.propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Host }))
}

// propagationHeader adapts a header for extraction.
type propagationHeader http.Header

func (h propagationHeader) Get(k string) string { return http.Header(h).Get(k) }
func (h propagationHeader) Set(k, v string)     { http.Header(h).Set(k, v) }
func (h propagationHeader) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}
