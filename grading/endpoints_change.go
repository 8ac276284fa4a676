package grading

import (
	"context"

	"github.com/go-kit/kit/endpoint"
)

// MakeGetGradeEndpoint answers GetGradeRequest with GetGradeResponse.
func MakeGetGradeEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(GetGradeRequest)
		g, err := s.GetGrade(ctx, req.StudentID, req.GradeID)
		return GetGradeResponse{Grade: g, Err: err}, nil
	}
}

// MakeUpdateGradeEndpoint answers UpdateGradeRequest with UpdateGradeResponse.
func MakeUpdateGradeEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(UpdateGradeRequest)
		g, err := s.UpdateGrade(ctx, req.StudentID, req.GradeID, req.Change, req.IfVersion, req.IdempotencyKey)
		return UpdateGradeResponse{Grade: g, Err: err}, nil
	}
}

// MakeRemoveGradeEndpoint answers RemoveGradeRequest with RemoveGradeResponse.
func MakeRemoveGradeEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(RemoveGradeRequest)
		err := s.RemoveGrade(ctx, req.StudentID, req.GradeID, req.By, req.IfVersion, req.IdempotencyKey)
		return RemoveGradeResponse{Err: err}, nil
	}
}

// MakeGradeHistoryEndpoint answers GradeHistoryRequest with GradeHistoryResponse.
func MakeGradeHistoryEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(GradeHistoryRequest)
		events, err := s.GradeHistory(ctx, req.StudentID)
		return GradeHistoryResponse{Events: events, Err: err}, nil
	}
}

// MakeRenameStudentEndpoint answers RenameStudentRequest with RenameStudentResponse.
func MakeRenameStudentEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(RenameStudentRequest)
		st, err := s.RenameStudent(ctx, req.ID, req.FirstName, req.LastName)
		return RenameStudentResponse{Student: st, Err: err}, nil
	}
}

// MakeRemoveStudentEndpoint answers RemoveStudentRequest with RemoveStudentResponse.
func MakeRemoveStudentEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(RemoveStudentRequest)
		err := s.RemoveStudent(ctx, req.ID, req.Force)
		return RemoveStudentResponse{Err: err}, nil
	}
}

// GetGrade implements Service.
func (e Endpoints) GetGrade(ctx context.Context, studentID, gradeID int) (Grade, error) {
	r, err := call[GetGradeResponse](ctx, e.GetGradeEndpoint, GetGradeRequest{StudentID: studentID, GradeID: gradeID})
	if err != nil {
		return Grade{}, err
	}
	return r.Grade, r.Err
}

// UpdateGrade implements Service.
func (e Endpoints) UpdateGrade(ctx context.Context, studentID, gradeID int, change GradeChange, ifVersion *int, idempotencyKey string) (Grade, error) {
	r, err := call[UpdateGradeResponse](ctx, e.UpdateGradeEndpoint, UpdateGradeRequest{
		StudentID: studentID, GradeID: gradeID, Change: change, IfVersion: ifVersion, IdempotencyKey: idempotencyKey,
	})
	if err != nil {
		return Grade{}, err
	}
	return r.Grade, r.Err
}

// RemoveGrade implements Service.
func (e Endpoints) RemoveGrade(ctx context.Context, studentID, gradeID int, by string, ifVersion *int, idempotencyKey string) error {
	r, err := call[RemoveGradeResponse](ctx, e.RemoveGradeEndpoint, RemoveGradeRequest{
		StudentID: studentID, GradeID: gradeID, By: by, IfVersion: ifVersion, IdempotencyKey: idempotencyKey,
	})
	if err != nil {
		return err
	}
	return r.Err
}

// GradeHistory implements Service.
func (e Endpoints) GradeHistory(ctx context.Context, studentID int) ([]GradeEvent, error) {
	r, err := call[GradeHistoryResponse](ctx, e.GradeHistoryEndpoint, GradeHistoryRequest{StudentID: studentID})
	if err != nil {
		return nil, err
	}
	return r.Events, r.Err
}

// RenameStudent implements Service.
func (e Endpoints) RenameStudent(ctx context.Context, id int, firstName, lastName string) (Student, error) {
	r, err := call[RenameStudentResponse](ctx, e.RenameStudentEndpoint, RenameStudentRequest{ID: id, FirstName: firstName, LastName: lastName})
	if err != nil {
		return Student{}, err
	}
	return r.Student, r.Err
}

// RemoveStudent implements Service.
func (e Endpoints) RemoveStudent(ctx context.Context, id int, force bool) error {
	r, err := call[RemoveStudentResponse](ctx, e.RemoveStudentEndpoint, RemoveStudentRequest{ID: id, Force: force})
	if err != nil {
		return err
	}
	return r.Err
}

// call calls ep with request and answers its response as a T.
func call[T any](ctx context.Context, ep endpoint.Endpoint, request any) (T, error) {
	resp, err := ep(ctx, request)
	if err != nil {
		var zero T
		return zero, err
	}
	return as[T](resp)
}

// GetGradeRequest asks for one grade of a student.
type GetGradeRequest struct {
	StudentID, GradeID int
}

// GetGradeResponse carries the grade, or the business error.
type GetGradeResponse struct {
	Grade Grade
	Err   error
}

// Failed implements endpoint.Failer.
func (r GetGradeResponse) Failed() error { return r.Err }

// UpdateGradeRequest asks to correct a grade, if it is still at IfVersion (when set).
type UpdateGradeRequest struct {
	StudentID, GradeID int
	Change             GradeChange
	IfVersion          *int
	IdempotencyKey     string
}

// Valid reports what is wrong with the request by field name (title, type, score, changedBy,
// change, idempotencyKey).
func (r UpdateGradeRequest) Valid(ctx context.Context) map[string]string {
	problems := r.Change.Valid(ctx)
	validIdempotencyKey(problems, r.IdempotencyKey)
	return problems
}

// UpdateGradeResponse carries the corrected grade, or the business error.
type UpdateGradeResponse struct {
	Grade Grade
	Err   error
}

// Failed implements endpoint.Failer.
func (r UpdateGradeResponse) Failed() error { return r.Err }

// RemoveGradeRequest asks to remove a grade, by By, if it is still at IfVersion (when set).
type RemoveGradeRequest struct {
	StudentID, GradeID int
	By                 string
	IfVersion          *int
	IdempotencyKey     string
}

// RemoveGradeResponse carries the business error, if any.
type RemoveGradeResponse struct {
	Err error
}

// Failed implements endpoint.Failer.
func (r RemoveGradeResponse) Failed() error { return r.Err }

// GradeHistoryRequest asks for a student's history.
type GradeHistoryRequest struct {
	StudentID int
}

// GradeHistoryResponse carries the history, or the business error.
type GradeHistoryResponse struct {
	Events []GradeEvent
	Err    error
}

// Failed implements endpoint.Failer.
func (r GradeHistoryResponse) Failed() error { return r.Err }

// RenameStudentRequest asks to rename a student.
type RenameStudentRequest struct {
	ID        int    `json:"-"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
}

// Valid reports what is wrong with the names, as AddStudentRequest.Valid.
func (r RenameStudentRequest) Valid(context.Context) map[string]string {
	return validName(r.FirstName, r.LastName)
}

// RenameStudentResponse carries the renamed student, or the business error.
type RenameStudentResponse struct {
	Student Student
	Err     error
}

// Failed implements endpoint.Failer.
func (r RenameStudentResponse) Failed() error { return r.Err }

// RemoveStudentRequest asks to remove a student; Force removes one who still has grades.
type RemoveStudentRequest struct {
	ID    int
	Force bool
}

// RemoveStudentResponse carries the business error, if any.
type RemoveStudentResponse struct {
	Err error
}

// Failed implements endpoint.Failer.
func (r RemoveStudentResponse) Failed() error { return r.Err }
