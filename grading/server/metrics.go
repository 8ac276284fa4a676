package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/pkg/telemetry"
)

// instrument registers grading's metrics in m and returns the middleware that feeds them: calls
// and their latency by method and outcome, and the store's counts, read at scrape time.
func instrument(m *telemetry.Metrics, store grading.Store) grading.Middleware {
	calls := m.Counter("grading", "calls_total", "Grading service calls, by method and outcome.", "method", "outcome")
	latency := m.Histogram("grading", "call_duration_seconds", "Time spent in grading service calls, by method and outcome.",
		[]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}, "method", "outcome")
	m.Register(storeCollector{
		store:    store,
		students: telemetry.Desc("grading", "students_total", "Students in the store."),
		grades:   telemetry.Desc("grading", "grades_total", "Grades in the store."),
	})
	return grading.InstrumentingMiddleware(calls, latency)
}

// storeCollector is a prometheus.Collector of the store's counts, both from one read of the store
// per scrape. A scrape that cannot read the store reports neither gauge, rather than zeros that
// would look like data loss.
type storeCollector struct {
	store            grading.Store
	students, grades *prometheus.Desc
}

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.students; ch <- c.grades }

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	all, err := c.store.ListStudents(ctx)
	if err != nil {
		return
	}
	grades := 0
	for _, st := range all {
		grades += len(st.Grades)
	}
	ch <- prometheus.MustNewConstMetric(c.students, prometheus.GaugeValue, float64(len(all)))
	ch <- prometheus.MustNewConstMetric(c.grades, prometheus.GaugeValue, float64(grades))
}
