package gradingclient

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-kit/kit/endpoint"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/pb"
	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/grpcx"
)

// DialGRPC returns a connection to the grading instance at target ("host:port", as go-kit sd
// hands it out), sending token (when set) and the context's request ID with every call; see
// grpcx.Dial.
func DialGRPC(target, token string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	return grpcx.Dial(target, token, opts...)
}

// MakeGRPCClientEndpoints returns Endpoints that call the grading instance behind conn. As with
// MakeHTTPClientEndpoints, business errors come back inside the responses as the very domain
// errors the local service returns, and only failures of the call itself (unreachable, deadline,
// INTERNAL, ...) are the endpoint's error, for circuit breakers and retries to act on.
//
// Each endpoint encodes its request, calls its method as the generated client does (invoke) and
// decodes the answer, as
// go-kit's gRPC transport client does, without what that client adds to every call and grading
// never uses: a cancelable context, a context value, the response header and trailer copied out
// for after-functions, and a message made by reflection.
func MakeGRPCClientEndpoints(conn *grpc.ClientConn) grading.Endpoints {
	eps := grading.Endpoints{
		ListStudentsEndpoint: grpcClientEndpoint(unary(encodeGRPCListStudentsRequest, invoke[*pb.ListStudentsRequest, pb.ListStudentsResponse](conn, pb.Grading_ListStudents_FullMethodName), decodeGRPCListStudentsResponse),
			func(err error) any { return grading.ListStudentsResponse{Err: err} }),
		GetStudentEndpoint: grpcClientEndpoint(unary(encodeGRPCGetStudentRequest, invoke[*pb.GetStudentRequest, pb.GetStudentResponse](conn, pb.Grading_GetStudent_FullMethodName), decodeGRPCGetStudentResponse),
			func(err error) any { return grading.GetStudentResponse{Err: err} }),
		AddStudentEndpoint: grpcClientEndpoint(unary(encodeGRPCAddStudentRequest, invoke[*pb.AddStudentRequest, pb.AddStudentResponse](conn, pb.Grading_AddStudent_FullMethodName), decodeGRPCAddStudentResponse),
			func(err error) any { return grading.AddStudentResponse{Err: err} }),
		AddGradeEndpoint: grpcClientEndpoint(unary(encodeGRPCAddGradeRequest, invoke[*pb.AddGradeRequest, pb.AddGradeResponse](conn, pb.Grading_AddGrade_FullMethodName), decodeGRPCAddGradeResponse),
			func(err error) any { return grading.AddGradeResponse{Err: err} }),
	}
	addGRPCChangeEndpoints(&eps, conn)
	return eps
}

// invoke calls method on cc as the generated client (pb.GradingClient) does, less the
// grpc.StaticMethod option it adds to every call: that costs a slice of options per call, and
// another when grpc-go joins it to the connection's defaults, and grpcx.Dial makes it one of
// those defaults instead.
func invoke[Req any, Resp any](cc grpc.ClientConnInterface, method string) func(context.Context, Req, ...grpc.CallOption) (*Resp, error) {
	return func(ctx context.Context, in Req, opts ...grpc.CallOption) (*Resp, error) {
		out := new(Resp)
		if err := cc.Invoke(ctx, method, in, out, opts...); err != nil {
			return nil, err
		}
		return out, nil
	}
}

// unary is the client endpoint of one method: enc makes its request message, call is the
// method (invoke), dec makes grading's response of the answer. The request ID in the
// context goes along in the call's metadata, added by the connection (DialGRPC).
func unary[Req, Resp any](enc func(any) (Req, error), call func(context.Context, Req, ...grpc.CallOption) (Resp, error), dec func(Resp) any) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req, err := enc(request)
		if err != nil {
			return nil, err
		}
		resp, err := call(ctx, req)
		if err != nil {
			return nil, err
		}
		return dec(resp), nil
	}
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

func encodeGRPCListStudentsRequest(any) (*pb.ListStudentsRequest, error) {
	return &pb.ListStudentsRequest{}, nil
}

func encodeGRPCGetStudentRequest(request any) (*pb.GetStudentRequest, error) {
	req, ok := request.(grading.GetStudentRequest)
	if !ok {
		return nil, fmt.Errorf("grading: GetStudent endpoint got %T", request)
	}
	return &pb.GetStudentRequest{Id: int64(req.ID)}, nil
}

func encodeGRPCAddStudentRequest(request any) (*pb.AddStudentRequest, error) {
	req, ok := request.(grading.AddStudentRequest)
	if !ok {
		return nil, fmt.Errorf("grading: AddStudent endpoint got %T", request)
	}
	return &pb.AddStudentRequest{FirstName: req.FirstName, LastName: req.LastName}, nil
}

func encodeGRPCAddGradeRequest(request any) (*pb.AddGradeRequest, error) {
	req, ok := request.(grading.AddGradeRequest)
	if !ok {
		return nil, fmt.Errorf("grading: AddGrade endpoint got %T", request)
	}
	return &pb.AddGradeRequest{StudentId: int64(req.StudentID), Grade: pb.FromGrade(req.Grade), IdempotencyKey: req.IdempotencyKey}, nil
}

func decodeGRPCListStudentsResponse(r *pb.ListStudentsResponse) any {
	out := grading.ListStudentsResponse{Students: make([]grading.Student, len(r.GetStudents()))}
	for i, st := range r.GetStudents() {
		out.Students[i] = pb.ToStudent(st)
	}
	return out
}

func decodeGRPCGetStudentResponse(r *pb.GetStudentResponse) any {
	return grading.GetStudentResponse{Student: pb.ToStudent(r.GetStudent())}
}

func decodeGRPCAddStudentResponse(r *pb.AddStudentResponse) any {
	return grading.AddStudentResponse{Student: pb.ToStudent(r.GetStudent())}
}

func decodeGRPCAddGradeResponse(r *pb.AddGradeResponse) any {
	return grading.AddGradeResponse{Grade: pb.ToGrade(r.GetGrade())}
}
