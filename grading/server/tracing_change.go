package server

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/pkg/tracing"
)

// traceChangeEndpoints gives the endpoints of grade corrections, removals, history and student
// changes their spans, as traceEndpoints does for the others.
func traceChangeEndpoints(eps grading.Endpoints, tracer trace.Tracer) grading.Endpoints {
	eps.GetGradeEndpoint = tracing.EndpointMiddleware(tracer, "grading.GetGrade")(eps.GetGradeEndpoint)
	eps.UpdateGradeEndpoint = tracing.EndpointMiddleware(tracer, "grading.UpdateGrade")(eps.UpdateGradeEndpoint)
	eps.RemoveGradeEndpoint = tracing.EndpointMiddleware(tracer, "grading.RemoveGrade")(eps.RemoveGradeEndpoint)
	eps.GradeHistoryEndpoint = tracing.EndpointMiddleware(tracer, "grading.GradeHistory")(eps.GradeHistoryEndpoint)
	eps.RenameStudentEndpoint = tracing.EndpointMiddleware(tracer, "grading.RenameStudent")(eps.RenameStudentEndpoint)
	eps.RemoveStudentEndpoint = tracing.EndpointMiddleware(tracer, "grading.RemoveStudent")(eps.RemoveStudentEndpoint)
	return eps
}

func (s *tracedStore) ChangeGrade(ctx context.Context, studentID, gradeID int, w grading.GradeWrite) (g grading.Grade, err error) {
	ctx, span := s.span(ctx, "ChangeGrade")
	defer func() { tracing.End(span, err) }()
	return s.store.ChangeGrade(ctx, studentID, gradeID, w)
}

func (s *tracedStore) GradeHistory(ctx context.Context, studentID int) (events []grading.GradeEvent, err error) {
	ctx, span := s.span(ctx, "GradeHistory")
	defer func() { tracing.End(span, err) }()
	return s.store.GradeHistory(ctx, studentID)
}

func (s *tracedStore) RenameStudent(ctx context.Context, id int, firstName, lastName string) (st grading.Student, err error) {
	ctx, span := s.span(ctx, "RenameStudent")
	defer func() { tracing.End(span, err) }()
	return s.store.RenameStudent(ctx, id, firstName, lastName)
}

func (s *tracedStore) RemoveStudent(ctx context.Context, id int, force bool) (err error) {
	ctx, span := s.span(ctx, "RemoveStudent")
	defer func() { tracing.End(span, err) }()
	return s.store.RemoveStudent(ctx, id, force)
}
