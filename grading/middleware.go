package grading

import (
	"context"
	"time"

	"github.com/go-kit/kit/metrics"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/pkg/telemetry"
)

// Middleware decorates a Service.
type Middleware func(Service) Service

// LoggingMiddleware logs every call in domain terms (which student, which grade, how it ended)
// with the request ID the call carries. Writes and failures are logged at info or above; reads
// that succeed only at debug, since the access log already records them.
func LoggingMiddleware(logger log.Logger) Middleware {
	return func(next Service) Service { return &loggingService{logger: logger, next: next} }
}

type loggingService struct {
	logger log.Logger
	next   Service
}

func (s *loggingService) log(ctx context.Context, write bool, err error, keyvals ...any) {
	var l log.Logger
	switch {
	case errs.KindOf(err) == errs.Internal || errs.KindOf(err) == errs.Unavailable:
		l = level.Error(s.logger)
	case err != nil || write:
		l = level.Info(s.logger)
	default:
		l = level.Debug(s.logger)
	}
	keyvals = append(keyvals, "request_id", httpx.RequestID(ctx))
	if err != nil {
		keyvals = append(keyvals, "err", err)
	}
	l.Log(keyvals...)
}

func (s *loggingService) ListStudents(ctx context.Context) (students []Student, err error) {
	defer func(begin time.Time) {
		s.log(ctx, false, err, "msg", "list students", "method", "ListStudents", "students", len(students), "took", time.Since(begin))
	}(time.Now())
	return s.next.ListStudents(ctx)
}

func (s *loggingService) GetStudent(ctx context.Context, id int) (st Student, err error) {
	defer func(begin time.Time) {
		s.log(ctx, false, err, "msg", "get student", "method", "GetStudent", "student_id", id, "took", time.Since(begin))
	}(time.Now())
	return s.next.GetStudent(ctx, id)
}

func (s *loggingService) AddStudent(ctx context.Context, firstName, lastName string) (st Student, err error) {
	defer func(begin time.Time) {
		s.log(ctx, true, err, "msg", "add student", "method", "AddStudent", "student_id", st.ID, "took", time.Since(begin))
	}(time.Now())
	return s.next.AddStudent(ctx, firstName, lastName)
}

func (s *loggingService) AddGrade(ctx context.Context, studentID int, g Grade, idempotencyKey string) (out Grade, err error) {
	defer func(begin time.Time) {
		s.log(ctx, true, err, "msg", "add grade", "method", "AddGrade", "student_id", studentID, "title", g.Title, "type", g.Type,
			"score", g.Score, "idempotency_key", idempotencyKey, "took", time.Since(begin))
	}(time.Now())
	return s.next.AddGrade(ctx, studentID, g, idempotencyKey)
}

// InstrumentingMiddleware counts and times every call per method and outcome ("ok", or the
// error kind: invalid, not_found, conflict, unavailable, internal) in reg.
func InstrumentingMiddleware(reg *telemetry.Metrics) Middleware {
	calls := reg.Counter("grading", "calls_total", "Grading service calls, by method and outcome.", "method", "outcome")
	latency := reg.Histogram("grading", "call_duration_seconds", "Time spent in grading service calls, by method and outcome.",
		[]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}, "method", "outcome")
	return func(next Service) Service {
		return &instrumentingService{calls: calls, latency: latency, next: next}
	}
}

// RegisterGauges exposes the number of students and grades in the store, read together at scrape
// time with one read of the store per scrape.
func RegisterGauges(m *telemetry.Metrics, store Store) {
	m.Register(storeCollector{
		store:    store,
		students: telemetry.Desc("grading", "students_total", "Students in the store."),
		grades:   telemetry.Desc("grading", "grades_total", "Grades in the store."),
	})
}

// storeCollector is a prometheus.Collector of the store's counts. A scrape that cannot read the
// store reports neither gauge, rather than zeros that would look like data loss.
type storeCollector struct {
	store            Store
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

type instrumentingService struct {
	calls   metrics.Counter
	latency metrics.Histogram
	next    Service
}

func (s *instrumentingService) observe(method string, begin time.Time, err error) {
	lvs := []string{"method", method, "outcome", outcome(err)}
	s.calls.With(lvs...).Add(1)
	s.latency.With(lvs...).Observe(time.Since(begin).Seconds())
}

// outcome labels a call by the kind of its error: ok, invalid, not_found, conflict, unavailable
// or internal.
func outcome(err error) string { return string(errs.KindOf(err)) }

func (s *instrumentingService) ListStudents(ctx context.Context) (_ []Student, err error) {
	defer func(begin time.Time) { s.observe("ListStudents", begin, err) }(time.Now())
	return s.next.ListStudents(ctx)
}

func (s *instrumentingService) GetStudent(ctx context.Context, id int) (_ Student, err error) {
	defer func(begin time.Time) { s.observe("GetStudent", begin, err) }(time.Now())
	return s.next.GetStudent(ctx, id)
}

func (s *instrumentingService) AddStudent(ctx context.Context, firstName, lastName string) (_ Student, err error) {
	defer func(begin time.Time) { s.observe("AddStudent", begin, err) }(time.Now())
	return s.next.AddStudent(ctx, firstName, lastName)
}

func (s *instrumentingService) AddGrade(ctx context.Context, studentID int, g Grade, idempotencyKey string) (_ Grade, err error) {
	defer func(begin time.Time) { s.observe("AddGrade", begin, err) }(time.Now())
	return s.next.AddGrade(ctx, studentID, g, idempotencyKey)
}
