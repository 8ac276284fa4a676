package grading

import (
	"context"
	"sync"
	"time"

	"github.com/go-kit/kit/metrics"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/requestid"
)

// Middleware decorates a Service.
type Middleware func(Service) Service

// LoggingMiddleware logs every call in domain terms (which student, which grade, how it ended)
// with the request ID the call carries. Writes and failures are logged at info or above; reads
// that succeed only at debug, since the access log already records them. debug says whether
// logger keeps debug entries (logx.Enabled): when it does not, a read that succeeds builds no
// line at all, rather than one the level filter would drop.
func LoggingMiddleware(logger log.Logger, debug bool) Middleware {
	return func(next Service) Service {
		return &loggingService{
			debug: debug, next: next,
			errorLevel: level.Error(logger), info: level.Info(logger), debugLevel: level.Debug(logger),
		}
	}
}

type loggingService struct {
	// The level loggers are made once: level.Debug and its kin allocate a logger per call.
	errorLevel, info, debugLevel log.Logger
	debug                        bool
	next                         Service
}

// quiet reports whether a call has no line to log: a read that succeeded, with debug off.
func (s *loggingService) quiet(write bool, err error) bool { return err == nil && !write && !s.debug }

func (s *loggingService) log(ctx context.Context, write bool, err error, keyvals ...any) {
	var l log.Logger
	switch {
	case errs.KindOf(err) == errs.Internal || errs.KindOf(err) == errs.Unavailable:
		l = s.errorLevel
	case err != nil || write:
		l = s.info
	default:
		l = s.debugLevel
	}
	keyvals = append(keyvals, requestid.LogFields(ctx)...)
	if err != nil {
		keyvals = append(keyvals, "err", err)
	}
	l.Log(keyvals...)
}

func (s *loggingService) ListStudents(ctx context.Context) (students []Student, err error) {
	defer func(begin time.Time) {
		if s.quiet(false, err) {
			return
		}
		s.log(ctx, false, err, "msg", "list students", "method", "ListStudents", "students", len(students), "took", time.Since(begin))
	}(time.Now())
	return s.next.ListStudents(ctx)
}

func (s *loggingService) GetStudent(ctx context.Context, id int) (st Student, err error) {
	defer func(begin time.Time) {
		if s.quiet(false, err) {
			return
		}
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

// InstrumentingMiddleware counts and times every call in calls and latency, labelled by method
// and outcome ("ok", or the error kind: invalid, not_found, conflict, unavailable, internal).
func InstrumentingMiddleware(calls metrics.Counter, latency metrics.Histogram) Middleware {
	return func(next Service) Service {
		return &instrumentingService{calls: calls, latency: latency, next: next}
	}
}

type instrumentingService struct {
	calls   metrics.Counter
	latency metrics.Histogram
	next    Service
	// labelled holds calls and latency with each method's and outcome's labels applied
	// (instrumentKey → *instruments), made on first use rather than on every call: a handful of
	// methods times six outcomes.
	labelled sync.Map
}

type instrumentKey struct{ method, outcome string }

type instruments struct {
	calls   metrics.Counter
	latency metrics.Histogram
}

func (s *instrumentingService) observe(method string, begin time.Time, err error) {
	k := instrumentKey{method, outcome(err)}
	v, ok := s.labelled.Load(k)
	if !ok {
		lvs := []string{"method", k.method, "outcome", k.outcome}
		v, _ = s.labelled.LoadOrStore(k, &instruments{calls: s.calls.With(lvs...), latency: s.latency.With(lvs...)})
	}
	in := v.(*instruments)
	in.calls.Add(1)
	in.latency.Observe(time.Since(begin).Seconds())
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
