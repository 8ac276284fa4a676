// Package telemetry gives each service its own Prometheus registry, the go-kit request metrics
// every service exposes (count and latency per method, route and status), and the /metrics
// handler. It keeps no global registry: two services in one process never share metrics.
package telemetry

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-kit/kit/metrics"
	kitprom "github.com/go-kit/kit/metrics/prometheus"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gradebook/gradebook/pkg/httpx"
)

// Namespace prefixes every gradebook metric.
const Namespace = "gradebook"

// Metrics is a service's metrics: its own Prometheus registry and the request metrics.
type Metrics struct {
	prom     *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	// series holds each (method, route, status)'s counter and histogram once looked up, so
	// that a request pays one map read for its metrics rather than labels built and hashed twice.
	series sync.Map // seriesKey → *requestSeries
}

type seriesKey struct {
	method, route string
	status        int
}

type requestSeries struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// New returns Metrics with the Go runtime and process collectors and the HTTP request metrics.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	r := &Metrics{prom: reg}
	r.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "http", Name: "requests_total",
		Help: "HTTP requests served, by method, route and status."}, []string{"method", "route", "status"})
	r.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
		Help: "Time to serve HTTP requests, by method, route and status.", Buckets: prometheus.DefBuckets}, []string{"method", "route", "status"})
	reg.MustRegister(r.requests, r.latency)
	return r
}

// Counter registers and returns a go-kit counter.
func (r *Metrics) Counter(subsystem, name, help string, labels ...string) metrics.Counter {
	cv := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: subsystem, Name: name, Help: help}, labels)
	r.prom.MustRegister(cv)
	return kitprom.NewCounter(cv)
}

// Gauge registers and returns a go-kit gauge.
func (r *Metrics) Gauge(subsystem, name, help string, labels ...string) metrics.Gauge {
	gv := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: subsystem, Name: name, Help: help}, labels)
	r.prom.MustRegister(gv)
	return kitprom.NewGauge(gv)
}

// GaugeFunc registers a gauge whose value is read from f at scrape time.
func (r *Metrics) GaugeFunc(subsystem, name, help string, f func() float64) {
	r.prom.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: subsystem, Name: name, Help: help}, f))
}

// Register adds a collector of the service's own, for metrics read together at scrape time.
func (r *Metrics) Register(c prometheus.Collector) { r.prom.MustRegister(c) }

// Desc describes a metric of the gradebook namespace, for a collector passed to Register.
func Desc(subsystem, name, help string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, subsystem, name), help, nil, nil)
}

// Histogram registers and returns a go-kit histogram with the given buckets.
func (r *Metrics) Histogram(subsystem, name, help string, buckets []float64, labels ...string) metrics.Histogram {
	hv := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: subsystem, Name: name, Help: help, Buckets: buckets}, labels)
	r.prom.MustRegister(hv)
	return kitprom.NewHistogram(hv)
}

// Handler serves the metrics in the Prometheus text format.
func (r *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(r.prom, promhttp.HandlerOpts{Registry: r.prom})
}

// Gatherer exposes the underlying registry, for tests and scrapes in-process.
func (r *Metrics) Gatherer() prometheus.Gatherer { return r.prom }

type routeKey struct{}

// Instrument counts and times every request next serves. The route label is the gorilla/mux
// path template when the request matched a route that RouteLabel ran on, and "unmatched"
// otherwise, so that probing random paths cannot blow up the label space.
func (r *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		route := "unmatched"
		sw := httpx.NewStatusWriter(w)
		begin := time.Now()
		next.ServeHTTP(sw, req.WithContext(context.WithValue(req.Context(), routeKey{}, &route)))
		took := time.Since(begin).Seconds()
		s := r.requestSeries(seriesKey{methodLabel(req.Method), route, sw.Status})
		s.count.Inc()
		s.latency.Observe(took)
	})
}

// requestSeries returns the request metrics of k, made on its first request. The keys are few:
// methodLabel bounds the methods, routes are the router's templates or "unmatched", and
// statuses are what handlers write.
func (r *Metrics) requestSeries(k seriesKey) *requestSeries {
	if s, ok := r.series.Load(k); ok {
		return s.(*requestSeries)
	}
	status := strconv.Itoa(k.status)
	s, _ := r.series.LoadOrStore(k, &requestSeries{
		count:   r.requests.WithLabelValues(k.method, k.route, status),
		latency: r.latency.WithLabelValues(k.method, k.route, status),
	})
	return s.(*requestSeries)
}

// methodLabel keeps the method label's values few: net/http accepts any token as a method, and
// a label value per made-up method would grow the metrics without bound.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

// RouteLabel is a gorilla/mux middleware (router.Use) that tells Instrument which route matched.
func RouteLabel(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if p, ok := req.Context().Value(routeKey{}).(*string); ok {
			if cr := mux.CurrentRoute(req); cr != nil {
				if t, err := cr.GetPathTemplate(); err == nil {
					*p = t
				}
			}
		}
		next.ServeHTTP(w, req)
	})
}
