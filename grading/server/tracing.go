package server

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/codes"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/pkg/tracing"
)

// traceEndpoints gives every grading endpoint a span of its own, named after its method, between
// the transport's server span and the store's.
func traceEndpoints(eps grading.Endpoints, tracer trace.Tracer) grading.Endpoints {
	eps.ListStudentsEndpoint = tracing.EndpointMiddleware(tracer, "grading.ListStudents")(eps.ListStudentsEndpoint)
	eps.GetStudentEndpoint = tracing.EndpointMiddleware(tracer, "grading.GetStudent")(eps.GetStudentEndpoint)
	eps.AddStudentEndpoint = tracing.EndpointMiddleware(tracer, "grading.AddStudent")(eps.AddStudentEndpoint)
	eps.AddGradeEndpoint = tracing.EndpointMiddleware(tracer, "grading.AddGrade")(eps.AddGradeEndpoint)
	return traceChangeEndpoints(eps, tracer)
}

// tracedStore makes a span of every store operation that is part of a traced request. An
// operation outside one (the demo seed at start-up, the metrics' scrape-time counts) makes none:
// it would start a trace of its own that nobody asked for.
type tracedStore struct {
	store
	tracer trace.Tracer
	system attribute.KeyValue
	// ops are the spans of the store's operations, named and given their attributes once.
	ops map[string]tracing.Operation
}

// storeOps are the operations of a store that make spans.
var storeOps = []string{"ListStudents", "GetStudent", "CreateStudent", "AddGrade", "SeedIfEmpty",
	"ChangeGrade", "GradeHistory", "RenameStudent", "RemoveStudent"}

// traceStore wraps s; kind is the store's kind (KindBolt or KindPostgres), recorded as db.system.
func traceStore(s store, kind string, tracer trace.Tracer) store {
	system := "bbolt"
	if kind == KindPostgres {
		system = "postgresql"
	}
	t := &tracedStore{store: s, tracer: tracer, system: attribute.String("db.system", system), ops: make(map[string]tracing.Operation, len(storeOps))}
	for _, op := range storeOps {
		t.ops[op] = t.operation(op)
	}
	return t
}

func (s *tracedStore) operation(op string) tracing.Operation {
	return tracing.NewOperation("store."+op, s.system, attribute.String("db.operation", op))
}

// span starts op's span under a traced request; end it with tracing.End. Outside one, the span
// is ctx's own, which records nothing.
func (s *tracedStore) span(ctx context.Context, op string) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, trace.SpanFromContext(ctx)
	}
	o, ok := s.ops[op]
	if !ok {
		o = s.operation(op)
	}
	return o.Start(ctx, s.tracer)
}

func (s *tracedStore) ListStudents(ctx context.Context) (students []grading.Student, err error) {
	ctx, span := s.span(ctx, "ListStudents")
	defer func() { tracing.End(span, err) }()
	return s.store.ListStudents(ctx)
}

func (s *tracedStore) GetStudent(ctx context.Context, id int) (st grading.Student, err error) {
	ctx, span := s.span(ctx, "GetStudent")
	defer func() { tracing.End(span, err) }()
	return s.store.GetStudent(ctx, id)
}

func (s *tracedStore) CreateStudent(ctx context.Context, firstName, lastName string) (st grading.Student, err error) {
	ctx, span := s.span(ctx, "CreateStudent")
	defer func() { tracing.End(span, err) }()
	return s.store.CreateStudent(ctx, firstName, lastName)
}

func (s *tracedStore) AddGrade(ctx context.Context, studentID int, g grading.Grade, key string) (added grading.Grade, err error) {
	ctx, span := s.span(ctx, "AddGrade")
	defer func() { tracing.End(span, err) }()
	return s.store.AddGrade(ctx, studentID, g, key)
}

func (s *tracedStore) SeedIfEmpty(ctx context.Context, students []grading.Student) (n int, err error) {
	ctx, span := s.span(ctx, "SeedIfEmpty")
	defer func() { tracing.End(span, err) }()
	return s.store.SeedIfEmpty(ctx, students)
}

// pgQueryTracer is pgx's QueryTracer for PostgreSQL: a client span per statement, the child of
// the store operation that sent it. Statements outside a traced request (migrations, the
// health check's ping) make none.
type pgQueryTracer struct{ tracer trace.Tracer }

// querySpanKey marks the span a TraceQueryStart began, so that TraceQueryEnd ends that span and
// never the caller's.
type querySpanKey struct{}

// TraceQueryStart implements pgx.QueryTracer.
func (q pgQueryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	verb, _, _ := strings.Cut(strings.TrimSpace(data.SQL), " ")
	ctx, span := q.tracer.Start(ctx, statementSpanName(verb), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system", "postgresql"), attribute.String("db.query.text", data.SQL)))
	return context.WithValue(ctx, querySpanKey{}, span)
}

// statementSpanName names a statement's span after its verb, "postgresql SELECT": the verbs the
// store sends are named without joining strings on every statement.
func statementSpanName(verb string) string {
	switch strings.ToUpper(verb) {
	case "SELECT":
		return "postgresql SELECT"
	case "INSERT":
		return "postgresql INSERT"
	case "UPDATE":
		return "postgresql UPDATE"
	case "DELETE":
		return "postgresql DELETE"
	case "WITH":
		return "postgresql WITH"
	case "BEGIN":
		return "postgresql BEGIN"
	case "COMMIT":
		return "postgresql COMMIT"
	case "ROLLBACK":
		return "postgresql ROLLBACK"
	}
	return "postgresql " + strings.ToUpper(verb)
}

// TraceQueryEnd implements pgx.QueryTracer.
func (q pgQueryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	span, ok := ctx.Value(querySpanKey{}).(trace.Span)
	if !ok {
		return
	}
	if data.Err != nil && !errors.Is(data.Err, pgx.ErrNoRows) {
		span.RecordError(data.Err)
		span.SetStatus(codes.Error, data.Err.Error())
	}
	span.End()
}
