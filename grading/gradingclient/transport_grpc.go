package gradingclient

import (
	"context"
	"errors"
	"fmt"

	kitgrpc "github.com/go-kit/kit/transport/grpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/pb"
	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/grpcx"
)

// DialGRPC returns a connection to the grading instance at target ("host:port", as go-kit sd
// hands it out), sending token (when set) with every call; see grpcx.Dial.
func DialGRPC(target, token string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	return grpcx.Dial(target, token, opts...)
}

// MakeGRPCClientEndpoints returns Endpoints that call the grading instance behind conn. As with
// MakeHTTPClientEndpoints, business errors come back inside the responses as the very domain
// errors the local service returns, and only failures of the call itself (unreachable, deadline,
// INTERNAL, ...) are the endpoint's error, for circuit breakers and retries to act on.
func MakeGRPCClientEndpoints(conn *grpc.ClientConn) grading.Endpoints {
	service := pb.Grading_ServiceDesc.ServiceName
	opts := []kitgrpc.ClientOption{kitgrpc.ClientBefore(grpcx.SendRequestID)}
	eps := grading.Endpoints{
		ListStudentsEndpoint: grpcClientEndpoint(kitgrpc.NewClient(conn, service, "ListStudents",
			encodeGRPCListStudentsRequest, decodeGRPCListStudentsResponse, &pb.ListStudentsResponse{}, opts...).Endpoint(),
			func(err error) any { return grading.ListStudentsResponse{Err: err} }),
		GetStudentEndpoint: grpcClientEndpoint(kitgrpc.NewClient(conn, service, "GetStudent",
			encodeGRPCGetStudentRequest, decodeGRPCGetStudentResponse, &pb.GetStudentResponse{}, opts...).Endpoint(),
			func(err error) any { return grading.GetStudentResponse{Err: err} }),
		AddStudentEndpoint: grpcClientEndpoint(kitgrpc.NewClient(conn, service, "AddStudent",
			encodeGRPCAddStudentRequest, decodeGRPCAddStudentResponse, &pb.AddStudentResponse{}, opts...).Endpoint(),
			func(err error) any { return grading.AddStudentResponse{Err: err} }),
		AddGradeEndpoint: grpcClientEndpoint(kitgrpc.NewClient(conn, service, "AddGrade",
			encodeGRPCAddGradeRequest, decodeGRPCAddGradeResponse, &pb.AddGradeResponse{}, opts...).Endpoint(),
			func(err error) any { return grading.AddGradeResponse{Err: err} }),
	}
	addGRPCChangeEndpoints(&eps, conn, service, opts)
	return eps
}

// grpcClientEndpoint moves business statuses into the response (failed builds one), and leaves
// transport failures as the endpoint's error. A call the caller gave up on answers the context's
// own error, so that breakers and retries recognise it with errors.Is.
func grpcClientEndpoint(next func(context.Context, any) (any, error), failed func(error) any) func(context.Context, any) (any, error) {
	return func(ctx context.Context, request any) (any, error) {
		resp, err := next(ctx, request)
		if err == nil {
			return resp, nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("grading: %w (%v)", cerr, status.Convert(err).Message())
		}
		st, isStatus := status.FromError(err)
		if !isStatus {
			return nil, err // a request of the wrong type, say: ours, not the instance's
		}
		if derr, business := grpcx.ErrorOf(st); business {
			return failed(domainError(derr)), nil
		}
		return nil, err
	}
}

// domainError answers grading's own error for the kinds that have one, so that a caller over
// gRPC sees exactly what a local caller sees (errors.Is(err, grading.ErrStudentNotFound)).
func domainError(err error) error {
	var fe errs.FieldErrors
	switch {
	case errors.As(err, &fe):
		return err
	case knownError(0, err.Error()) != nil:
		return knownError(0, err.Error())
	case errors.Is(err, errs.ErrNotFound):
		return grading.ErrStudentNotFound
	case errors.Is(err, errs.ErrConflict):
		return grading.ErrIdempotencyConflict
	}
	return err
}

func encodeGRPCListStudentsRequest(context.Context, any) (any, error) {
	return &pb.ListStudentsRequest{}, nil
}

func encodeGRPCGetStudentRequest(_ context.Context, request any) (any, error) {
	req, ok := request.(grading.GetStudentRequest)
	if !ok {
		return nil, fmt.Errorf("grading: GetStudent endpoint got %T", request)
	}
	return &pb.GetStudentRequest{Id: int64(req.ID)}, nil
}

func encodeGRPCAddStudentRequest(_ context.Context, request any) (any, error) {
	req, ok := request.(grading.AddStudentRequest)
	if !ok {
		return nil, fmt.Errorf("grading: AddStudent endpoint got %T", request)
	}
	return &pb.AddStudentRequest{FirstName: req.FirstName, LastName: req.LastName}, nil
}

func encodeGRPCAddGradeRequest(_ context.Context, request any) (any, error) {
	req, ok := request.(grading.AddGradeRequest)
	if !ok {
		return nil, fmt.Errorf("grading: AddGrade endpoint got %T", request)
	}
	return &pb.AddGradeRequest{StudentId: int64(req.StudentID), Grade: pb.FromGrade(req.Grade), IdempotencyKey: req.IdempotencyKey}, nil
}

func decodeGRPCListStudentsResponse(_ context.Context, response any) (any, error) {
	r, ok := response.(*pb.ListStudentsResponse)
	if !ok {
		return nil, fmt.Errorf("grading: ListStudents answered %T", response)
	}
	out := grading.ListStudentsResponse{Students: make([]grading.Student, len(r.GetStudents()))}
	for i, st := range r.GetStudents() {
		out.Students[i] = pb.ToStudent(st)
	}
	return out, nil
}

func decodeGRPCGetStudentResponse(_ context.Context, response any) (any, error) {
	r, ok := response.(*pb.GetStudentResponse)
	if !ok {
		return nil, fmt.Errorf("grading: GetStudent answered %T", response)
	}
	return grading.GetStudentResponse{Student: pb.ToStudent(r.GetStudent())}, nil
}

func decodeGRPCAddStudentResponse(_ context.Context, response any) (any, error) {
	r, ok := response.(*pb.AddStudentResponse)
	if !ok {
		return nil, fmt.Errorf("grading: AddStudent answered %T", response)
	}
	return grading.AddStudentResponse{Student: pb.ToStudent(r.GetStudent())}, nil
}

func decodeGRPCAddGradeResponse(_ context.Context, response any) (any, error) {
	r, ok := response.(*pb.AddGradeResponse)
	if !ok {
		return nil, fmt.Errorf("grading: AddGrade answered %T", response)
	}
	return grading.AddGradeResponse{Grade: pb.ToGrade(r.GetGrade())}, nil
}
