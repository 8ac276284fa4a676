package gradingclient

import (
	"context"
	"fmt"

	kitgrpc "github.com/go-kit/kit/transport/grpc"
	"google.golang.org/grpc"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/pb"
)

// addGRPCChangeEndpoints fills in the gRPC endpoints of grade corrections, removals, history and
// student changes.
func addGRPCChangeEndpoints(eps *grading.Endpoints, conn *grpc.ClientConn, service string, opts []kitgrpc.ClientOption) {
	eps.GetGradeEndpoint = grpcClientEndpoint(kitgrpc.NewClient(conn, service, "GetGrade",
		encodeGRPC(func(r grading.GetGradeRequest) any {
			return &pb.GetGradeRequest{StudentId: int64(r.StudentID), GradeId: int64(r.GradeID)}
		}),
		decodeGRPC(func(r *pb.GetGradeResponse) any { return grading.GetGradeResponse{Grade: pb.ToGrade(r.GetGrade())} }),
		&pb.GetGradeResponse{}, opts...).Endpoint(),
		func(err error) any { return grading.GetGradeResponse{Err: err} })
	eps.UpdateGradeEndpoint = grpcClientEndpoint(kitgrpc.NewClient(conn, service, "UpdateGrade",
		encodeGRPC(func(r grading.UpdateGradeRequest) any {
			return &pb.UpdateGradeRequest{StudentId: int64(r.StudentID), GradeId: int64(r.GradeID), Change: pb.FromGradeChange(r.Change),
				IfVersion: pb.FromVersion(r.IfVersion), IdempotencyKey: r.IdempotencyKey}
		}),
		decodeGRPC(func(r *pb.UpdateGradeResponse) any {
			return grading.UpdateGradeResponse{Grade: pb.ToGrade(r.GetGrade())}
		}),
		&pb.UpdateGradeResponse{}, opts...).Endpoint(),
		func(err error) any { return grading.UpdateGradeResponse{Err: err} })
	eps.RemoveGradeEndpoint = grpcClientEndpoint(kitgrpc.NewClient(conn, service, "RemoveGrade",
		encodeGRPC(func(r grading.RemoveGradeRequest) any {
			return &pb.RemoveGradeRequest{StudentId: int64(r.StudentID), GradeId: int64(r.GradeID), ChangedBy: r.By,
				IfVersion: pb.FromVersion(r.IfVersion), IdempotencyKey: r.IdempotencyKey}
		}),
		decodeGRPC(func(*pb.RemoveGradeResponse) any { return grading.RemoveGradeResponse{} }),
		&pb.RemoveGradeResponse{}, opts...).Endpoint(),
		func(err error) any { return grading.RemoveGradeResponse{Err: err} })
	eps.GradeHistoryEndpoint = grpcClientEndpoint(kitgrpc.NewClient(conn, service, "GradeHistory",
		encodeGRPC(func(r grading.GradeHistoryRequest) any { return &pb.GradeHistoryRequest{StudentId: int64(r.StudentID)} }),
		decodeGRPC(func(r *pb.GradeHistoryResponse) any {
			out := grading.GradeHistoryResponse{Events: make([]grading.GradeEvent, len(r.GetEvents()))}
			for i, e := range r.GetEvents() {
				out.Events[i] = pb.ToGradeEvent(e)
			}
			return out
		}),
		&pb.GradeHistoryResponse{}, opts...).Endpoint(),
		func(err error) any { return grading.GradeHistoryResponse{Err: err} })
	eps.RenameStudentEndpoint = grpcClientEndpoint(kitgrpc.NewClient(conn, service, "RenameStudent",
		encodeGRPC(func(r grading.RenameStudentRequest) any {
			return &pb.RenameStudentRequest{Id: int64(r.ID), FirstName: r.FirstName, LastName: r.LastName}
		}),
		decodeGRPC(func(r *pb.RenameStudentResponse) any {
			return grading.RenameStudentResponse{Student: pb.ToStudent(r.GetStudent())}
		}),
		&pb.RenameStudentResponse{}, opts...).Endpoint(),
		func(err error) any { return grading.RenameStudentResponse{Err: err} })
	eps.RemoveStudentEndpoint = grpcClientEndpoint(kitgrpc.NewClient(conn, service, "RemoveStudent",
		encodeGRPC(func(r grading.RemoveStudentRequest) any {
			return &pb.RemoveStudentRequest{Id: int64(r.ID), Force: r.Force}
		}),
		decodeGRPC(func(*pb.RemoveStudentResponse) any { return grading.RemoveStudentResponse{} }),
		&pb.RemoveStudentResponse{}, opts...).Endpoint(),
		func(err error) any { return grading.RemoveStudentResponse{Err: err} })
}

// encodeGRPC checks a request's type and converts it to its message.
func encodeGRPC[R any](convert func(R) any) kitgrpc.EncodeRequestFunc {
	return func(_ context.Context, request any) (any, error) {
		req, ok := request.(R)
		if !ok {
			var zero R
			return nil, fmt.Errorf("grading: endpoint for %T got %T", zero, request)
		}
		return convert(req), nil
	}
}

// decodeGRPC checks a response message's type and converts it.
func decodeGRPC[M any](convert func(M) any) kitgrpc.DecodeResponseFunc {
	return func(_ context.Context, response any) (any, error) {
		r, ok := response.(M)
		if !ok {
			var zero M
			return nil, fmt.Errorf("grading: answered %T, want %T", response, zero)
		}
		return convert(r), nil
	}
}
