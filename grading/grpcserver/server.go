package grpcserver

import (
	"context"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/pb"
	"github.com/gradebook/gradebook/pkg/grpcx"
	"github.com/gradebook/gradebook/pkg/requestid"
)

// ServerOptions are what every grading gRPC server runs with: pkg/grpcx's limits and
// interceptors, with AddStudent and AddGrade as the writes that need token.
func ServerOptions(token string, logger log.Logger) []grpc.ServerOption {
	return grpcx.ServerOptions(token, logger, append([]string{pb.Grading_AddStudent_FullMethodName, pb.Grading_AddGrade_FullMethodName}, changeWrites...)...)
}

// Register serves eps as the gRPC Grading service on s, which should have been built
// with ServerOptions. Unlike pb.RegisterGradingServer, a request that does not decode is
// answered INVALID_ARGUMENT (grpcx.InvalidArgumentOnDecode).
func Register(s grpc.ServiceRegistrar, eps grading.Endpoints, logger log.Logger) {
	s.RegisterService(grpcx.InvalidArgumentOnDecode(pb.Grading_ServiceDesc), NewServer(eps, logger))
}

// NewServer adapts eps to pb.GradingServer: each method decodes its request into grading's
// request type, calls its endpoint and encodes the endpoint's response, as go-kit's gRPC
// transport server does. It is that server less what grading never uses (before and after
// functions, finalizers, response metadata), because kitgrpc.Server copies the call's whole
// incoming metadata on every call to hand to the before functions, whether there are any or not:
// about a tenth of a call's allocations on the server.
func NewServer(eps grading.Endpoints, logger log.Logger) pb.GradingServer {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	// Business errors are the caller's concern and already in the access log; only failures on
	// our side are worth a line of their own.
	errs := grpcErrorHandler{logger}
	return &grpcServer{
		changes:    newChangeHandlers(eps, errs),
		list:       method{eps.ListStudentsEndpoint, decodeListStudentsRequest, encodeListStudentsResponse, errs},
		get:        method{eps.GetStudentEndpoint, decodeGetStudentRequest, encodeGetStudentResponse, errs},
		addStudent: method{eps.AddStudentEndpoint, decodeAddStudentRequest, encodeAddStudentResponse, errs},
		addGrade:   method{eps.AddGradeEndpoint, decodeAddGradeRequest, encodeAddGradeResponse, errs},
	}
}

type grpcServer struct {
	pb.UnimplementedGradingServer
	list, get, addStudent, addGrade method
	changes                         changeHandlers
}

func (s *grpcServer) ListStudents(ctx context.Context, req *pb.ListStudentsRequest) (*pb.ListStudentsResponse, error) {
	return handle[*pb.ListStudentsResponse](ctx, s.list, req)
}

func (s *grpcServer) GetStudent(ctx context.Context, req *pb.GetStudentRequest) (*pb.GetStudentResponse, error) {
	return handle[*pb.GetStudentResponse](ctx, s.get, req)
}

func (s *grpcServer) AddStudent(ctx context.Context, req *pb.AddStudentRequest) (*pb.AddStudentResponse, error) {
	return handle[*pb.AddStudentResponse](ctx, s.addStudent, req)
}

func (s *grpcServer) AddGrade(ctx context.Context, req *pb.AddGradeRequest) (*pb.AddGradeResponse, error) {
	return handle[*pb.AddGradeResponse](ctx, s.addGrade, req)
}

// method is one RPC's endpoint with the functions that translate its request and response.
type method struct {
	e      endpoint.Endpoint
	dec    func(context.Context, any) (any, error)
	enc    func(context.Context, any) (any, error)
	onFail grpcErrorHandler
}

// serve is go-kit's Server.ServeGRPC for a method: a failure to decode, of the endpoint or to
// encode is handed to the error handler and answered as is.
func (m method) serve(ctx context.Context, req any) (any, error) {
	request, err := m.dec(ctx, req)
	if err != nil {
		m.onFail.Handle(ctx, err)
		return nil, err
	}
	response, err := m.e(ctx, request)
	if err != nil {
		m.onFail.Handle(ctx, err)
		return nil, err
	}
	out, err := m.enc(ctx, response)
	if err != nil {
		m.onFail.Handle(ctx, err)
		return nil, err
	}
	return out, nil
}

func handle[T any](ctx context.Context, m method, req any) (T, error) {
	var zero T
	resp, err := m.serve(ctx, req)
	if err != nil {
		return zero, err
	}
	out, ok := resp.(T)
	if !ok {
		return zero, status.Errorf(codes.Internal, "grading: answered %T, want %T", resp, zero)
	}
	return out, nil
}

type grpcErrorHandler struct{ logger log.Logger }

func (h grpcErrorHandler) Handle(ctx context.Context, err error) {
	if grpcx.IsServerFailure(status.Code(err)) {
		log.With(level.Error(h.logger), requestid.LogFields(ctx)...).Log("msg", "gRPC transport failed", "err", err)
	}
}

func decodeListStudentsRequest(context.Context, any) (any, error) {
	return grading.ListStudentsRequest{}, nil
}

func decodeGetStudentRequest(_ context.Context, request any) (any, error) {
	req, ok := request.(*pb.GetStudentRequest)
	if !ok {
		return nil, status.Errorf(codes.Internal, "grading: GetStudent got %T", request)
	}
	return grading.GetStudentRequest{ID: pb.ToID(req.GetId())}, nil
}

func decodeAddStudentRequest(_ context.Context, request any) (any, error) {
	req, ok := request.(*pb.AddStudentRequest)
	if !ok {
		return nil, status.Errorf(codes.Internal, "grading: AddStudent got %T", request)
	}
	return grading.AddStudentRequest{FirstName: req.GetFirstName(), LastName: req.GetLastName()}, nil
}

func decodeAddGradeRequest(_ context.Context, request any) (any, error) {
	req, ok := request.(*pb.AddGradeRequest)
	if !ok {
		return nil, status.Errorf(codes.Internal, "grading: AddGrade got %T", request)
	}
	return grading.AddGradeRequest{
		StudentID:      pb.ToID(req.GetStudentId()),
		Grade:          pb.ToGrade(req.GetGrade()),
		IdempotencyKey: req.GetIdempotencyKey(),
	}, nil
}

// encode answers response as the message ok builds from it, a business error as its status
// (grpcx.StatusOf), and a response of the wrong type as INTERNAL.
func encode[R interface{ Failed() error }](response any, ok func(R) any) (any, error) {
	r, isR := response.(R)
	if !isR {
		var zero R
		return nil, status.Errorf(codes.Internal, "grading: endpoint answered %T, want %T", response, zero)
	}
	if err := r.Failed(); err != nil {
		return nil, grpcx.StatusOf(err).Err()
	}
	return ok(r), nil
}

func encodeListStudentsResponse(_ context.Context, response any) (any, error) {
	return encode(response, func(r grading.ListStudentsResponse) any {
		out := &pb.ListStudentsResponse{Students: make([]*pb.Student, len(r.Students))}
		for i := range r.Students {
			out.Students[i] = pb.FromStudent(r.Students[i])
		}
		return out
	})
}

func encodeGetStudentResponse(_ context.Context, response any) (any, error) {
	return encode(response, func(r grading.GetStudentResponse) any {
		return &pb.GetStudentResponse{Student: pb.FromStudent(r.Student)}
	})
}

func encodeAddStudentResponse(_ context.Context, response any) (any, error) {
	return encode(response, func(r grading.AddStudentResponse) any {
		return &pb.AddStudentResponse{Student: pb.FromStudent(r.Student)}
	})
}

func encodeAddGradeResponse(_ context.Context, response any) (any, error) {
	return encode(response, func(r grading.AddGradeResponse) any {
		return &pb.AddGradeResponse{Grade: pb.FromGrade(r.Grade)}
	})
}
