package gradingclient

import (
	"fmt"

	"google.golang.org/grpc"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/pb"
)

// addGRPCChangeEndpoints fills in the gRPC endpoints of grade corrections, removals, history and
// student changes, each calling its method on conn as MakeGRPCClientEndpoints's do.
func addGRPCChangeEndpoints(eps *grading.Endpoints, conn grpc.ClientConnInterface) {
	eps.GetGradeEndpoint = grpcClientEndpoint(unary(
		encodeGRPC(func(r grading.GetGradeRequest) *pb.GetGradeRequest {
			return &pb.GetGradeRequest{StudentId: int64(r.StudentID), GradeId: int64(r.GradeID)}
		}),
		invoke[*pb.GetGradeRequest, pb.GetGradeResponse](conn, pb.Grading_GetGrade_FullMethodName),
		func(r *pb.GetGradeResponse) any { return grading.GetGradeResponse{Grade: pb.ToGrade(r.GetGrade())} }),
		func(err error) any { return grading.GetGradeResponse{Err: err} })
	eps.UpdateGradeEndpoint = grpcClientEndpoint(unary(
		encodeGRPC(func(r grading.UpdateGradeRequest) *pb.UpdateGradeRequest {
			return &pb.UpdateGradeRequest{StudentId: int64(r.StudentID), GradeId: int64(r.GradeID), Change: pb.FromGradeChange(r.Change),
				IfVersion: pb.FromVersion(r.IfVersion), IdempotencyKey: r.IdempotencyKey}
		}),
		invoke[*pb.UpdateGradeRequest, pb.UpdateGradeResponse](conn, pb.Grading_UpdateGrade_FullMethodName),
		func(r *pb.UpdateGradeResponse) any {
			return grading.UpdateGradeResponse{Grade: pb.ToGrade(r.GetGrade())}
		}),
		func(err error) any { return grading.UpdateGradeResponse{Err: err} })
	eps.RemoveGradeEndpoint = grpcClientEndpoint(unary(
		encodeGRPC(func(r grading.RemoveGradeRequest) *pb.RemoveGradeRequest {
			return &pb.RemoveGradeRequest{StudentId: int64(r.StudentID), GradeId: int64(r.GradeID), ChangedBy: r.By,
				IfVersion: pb.FromVersion(r.IfVersion), IdempotencyKey: r.IdempotencyKey}
		}),
		invoke[*pb.RemoveGradeRequest, pb.RemoveGradeResponse](conn, pb.Grading_RemoveGrade_FullMethodName),
		func(*pb.RemoveGradeResponse) any { return grading.RemoveGradeResponse{} }),
		func(err error) any { return grading.RemoveGradeResponse{Err: err} })
	eps.GradeHistoryEndpoint = grpcClientEndpoint(unary(
		encodeGRPC(func(r grading.GradeHistoryRequest) *pb.GradeHistoryRequest {
			return &pb.GradeHistoryRequest{StudentId: int64(r.StudentID)}
		}),
		invoke[*pb.GradeHistoryRequest, pb.GradeHistoryResponse](conn, pb.Grading_GradeHistory_FullMethodName),
		func(r *pb.GradeHistoryResponse) any {
			out := grading.GradeHistoryResponse{Events: make([]grading.GradeEvent, len(r.GetEvents()))}
			for i, e := range r.GetEvents() {
				out.Events[i] = pb.ToGradeEvent(e)
			}
			return out
		}),
		func(err error) any { return grading.GradeHistoryResponse{Err: err} })
	eps.RenameStudentEndpoint = grpcClientEndpoint(unary(
		encodeGRPC(func(r grading.RenameStudentRequest) *pb.RenameStudentRequest {
			return &pb.RenameStudentRequest{Id: int64(r.ID), FirstName: r.FirstName, LastName: r.LastName}
		}),
		invoke[*pb.RenameStudentRequest, pb.RenameStudentResponse](conn, pb.Grading_RenameStudent_FullMethodName),
		func(r *pb.RenameStudentResponse) any {
			return grading.RenameStudentResponse{Student: pb.ToStudent(r.GetStudent())}
		}),
		func(err error) any { return grading.RenameStudentResponse{Err: err} })
	eps.RemoveStudentEndpoint = grpcClientEndpoint(unary(
		encodeGRPC(func(r grading.RemoveStudentRequest) *pb.RemoveStudentRequest {
			return &pb.RemoveStudentRequest{Id: int64(r.ID), Force: r.Force}
		}),
		invoke[*pb.RemoveStudentRequest, pb.RemoveStudentResponse](conn, pb.Grading_RemoveStudent_FullMethodName),
		func(*pb.RemoveStudentResponse) any { return grading.RemoveStudentResponse{} }),
		func(err error) any { return grading.RemoveStudentResponse{Err: err} })
}

// encodeGRPC checks a request's type and converts it to its message.
func encodeGRPC[R, M any](convert func(R) M) func(any) (M, error) {
	return func(request any) (M, error) {
		req, ok := request.(R)
		if !ok {
			var zero M
			return zero, fmt.Errorf("grading: endpoint for %T got %T", *new(R), request)
		}
		return convert(req), nil
	}
}
