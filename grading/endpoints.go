package grading

import (
	"context"
	"fmt"

	"github.com/go-kit/kit/endpoint"
)

// Endpoints collects one go-kit endpoint per Service method. The server side is built with
// MakeServerEndpoints; a transport's client constructor builds one from remote calls. Endpoints
// implements Service itself, so a client is used exactly like the local service.
//
// Business errors travel inside the responses (which implement endpoint.Failer), so a 404 or a
// validation error never trips a circuit breaker or a retry; only transport failures come back
// as an endpoint's error.
type Endpoints struct {
	ListStudentsEndpoint endpoint.Endpoint
	GetStudentEndpoint   endpoint.Endpoint
	AddStudentEndpoint   endpoint.Endpoint
	AddGradeEndpoint     endpoint.Endpoint

	GetGradeEndpoint      endpoint.Endpoint
	UpdateGradeEndpoint   endpoint.Endpoint
	RemoveGradeEndpoint   endpoint.Endpoint
	GradeHistoryEndpoint  endpoint.Endpoint
	RenameStudentEndpoint endpoint.Endpoint
	RemoveStudentEndpoint endpoint.Endpoint
}

// MakeServerEndpoints wraps each method of s in an endpoint.
func MakeServerEndpoints(s Service) Endpoints {
	return Endpoints{
		ListStudentsEndpoint: MakeListStudentsEndpoint(s),
		GetStudentEndpoint:   MakeGetStudentEndpoint(s),
		AddStudentEndpoint:   MakeAddStudentEndpoint(s),
		AddGradeEndpoint:     MakeAddGradeEndpoint(s),

		GetGradeEndpoint:      MakeGetGradeEndpoint(s),
		UpdateGradeEndpoint:   MakeUpdateGradeEndpoint(s),
		RemoveGradeEndpoint:   MakeRemoveGradeEndpoint(s),
		GradeHistoryEndpoint:  MakeGradeHistoryEndpoint(s),
		RenameStudentEndpoint: MakeRenameStudentEndpoint(s),
		RemoveStudentEndpoint: MakeRemoveStudentEndpoint(s),
	}
}

// MakeListStudentsEndpoint answers ListStudentsRequest with ListStudentsResponse.
func MakeListStudentsEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, _ any) (any, error) {
		students, err := s.ListStudents(ctx)
		return ListStudentsResponse{Students: students, Err: err}, nil
	}
}

// MakeGetStudentEndpoint answers GetStudentRequest with GetStudentResponse.
func MakeGetStudentEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(GetStudentRequest)
		st, err := s.GetStudent(ctx, req.ID)
		return GetStudentResponse{Student: st, Err: err}, nil
	}
}

// MakeAddStudentEndpoint answers AddStudentRequest with AddStudentResponse.
func MakeAddStudentEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(AddStudentRequest)
		st, err := s.AddStudent(ctx, req.FirstName, req.LastName)
		return AddStudentResponse{Student: st, Err: err}, nil
	}
}

// MakeAddGradeEndpoint answers AddGradeRequest with AddGradeResponse.
func MakeAddGradeEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(AddGradeRequest)
		g, err := s.AddGrade(ctx, req.StudentID, req.Grade, req.IdempotencyKey)
		return AddGradeResponse{Grade: g, Err: err}, nil
	}
}

// ListStudents implements Service.
func (e Endpoints) ListStudents(ctx context.Context) ([]Student, error) {
	resp, err := e.ListStudentsEndpoint(ctx, ListStudentsRequest{})
	if err != nil {
		return nil, err
	}
	r, err := as[ListStudentsResponse](resp)
	if err != nil {
		return nil, err
	}
	return r.Students, r.Err
}

// GetStudent implements Service.
func (e Endpoints) GetStudent(ctx context.Context, id int) (Student, error) {
	resp, err := e.GetStudentEndpoint(ctx, GetStudentRequest{ID: id})
	if err != nil {
		return Student{}, err
	}
	r, err := as[GetStudentResponse](resp)
	if err != nil {
		return Student{}, err
	}
	return r.Student, r.Err
}

// AddStudent implements Service.
func (e Endpoints) AddStudent(ctx context.Context, firstName, lastName string) (Student, error) {
	resp, err := e.AddStudentEndpoint(ctx, AddStudentRequest{FirstName: firstName, LastName: lastName})
	if err != nil {
		return Student{}, err
	}
	r, err := as[AddStudentResponse](resp)
	if err != nil {
		return Student{}, err
	}
	return r.Student, r.Err
}

// AddGrade implements Service.
func (e Endpoints) AddGrade(ctx context.Context, studentID int, g Grade, idempotencyKey string) (Grade, error) {
	resp, err := e.AddGradeEndpoint(ctx, AddGradeRequest{StudentID: studentID, Grade: g, IdempotencyKey: idempotencyKey})
	if err != nil {
		return Grade{}, err
	}
	r, err := as[AddGradeResponse](resp)
	if err != nil {
		return Grade{}, err
	}
	return r.Grade, r.Err
}

// as guards against an endpoint chain that answers with the wrong type: a programming error
// that should surface as an error, not a panic in a caller's request.
func as[T any](resp any) (T, error) {
	r, ok := resp.(T)
	if !ok {
		var zero T
		return zero, fmt.Errorf("grading: endpoint answered %T, want %T", resp, zero)
	}
	return r, nil
}

// ListStudentsRequest asks for every student.
type ListStudentsRequest struct{}

// ListStudentsResponse carries the students, or the business error.
type ListStudentsResponse struct {
	Students []Student
	Err      error
}

// Failed implements endpoint.Failer.
func (r ListStudentsResponse) Failed() error { return r.Err }

// GetStudentRequest asks for one student.
type GetStudentRequest struct {
	ID int
}

// GetStudentResponse carries the student, or the business error.
type GetStudentResponse struct {
	Student Student
	Err     error
}

// Failed implements endpoint.Failer.
func (r GetStudentResponse) Failed() error { return r.Err }

// AddStudentRequest asks to add a student.
type AddStudentRequest struct {
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
}

// Valid reports what is wrong with the request by JSON field name. The service checks it on
// every call; a gateway may call it first to show errors beside a form without a round trip.
func (r AddStudentRequest) Valid(context.Context) map[string]string {
	return validName(r.FirstName, r.LastName)
}

// AddStudentResponse carries the new student, or the business error.
type AddStudentResponse struct {
	Student Student
	Err     error
}

// Failed implements endpoint.Failer.
func (r AddStudentResponse) Failed() error { return r.Err }

// AddGradeRequest asks to add a grade to a student.
type AddGradeRequest struct {
	StudentID      int
	Grade          Grade
	IdempotencyKey string
}

// Valid reports what is wrong with the request by field name (title, type, score,
// idempotencyKey).
func (r AddGradeRequest) Valid(ctx context.Context) map[string]string {
	problems := r.Grade.Valid(ctx)
	validIdempotencyKey(problems, r.IdempotencyKey)
	return problems
}

// AddGradeResponse carries the recorded grade, or the business error.
type AddGradeResponse struct {
	Grade Grade
	Err   error
}

// Failed implements endpoint.Failer.
func (r AddGradeResponse) Failed() error { return r.Err }
