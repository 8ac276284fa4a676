package grpcserver

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/pb"
)

// changeWrites are the methods of corrections, removals and student changes that need the token.
var changeWrites = []string{
	pb.Grading_UpdateGrade_FullMethodName, pb.Grading_RemoveGrade_FullMethodName,
	pb.Grading_RenameStudent_FullMethodName, pb.Grading_RemoveStudent_FullMethodName,
}

// changeHandlers serve the methods that read one grade, correct or remove it, read the history,
// and rename or remove a student.
type changeHandlers struct {
	getGrade, updateGrade, removeGrade, history, renameStudent, removeStudent method
}

func newChangeHandlers(eps grading.Endpoints, errs grpcErrorHandler) changeHandlers {
	return changeHandlers{
		getGrade:      method{eps.GetGradeEndpoint, decodeGetGradeRequest, encodeGetGradeResponse, errs},
		updateGrade:   method{eps.UpdateGradeEndpoint, decodeUpdateGradeRequest, encodeUpdateGradeResponse, errs},
		removeGrade:   method{eps.RemoveGradeEndpoint, decodeRemoveGradeRequest, encodeRemoveGradeResponse, errs},
		history:       method{eps.GradeHistoryEndpoint, decodeGradeHistoryRequest, encodeGradeHistoryResponse, errs},
		renameStudent: method{eps.RenameStudentEndpoint, decodeRenameStudentRequest, encodeRenameStudentResponse, errs},
		removeStudent: method{eps.RemoveStudentEndpoint, decodeRemoveStudentRequest, encodeRemoveStudentResponse, errs},
	}
}

func (s *grpcServer) GetGrade(ctx context.Context, req *pb.GetGradeRequest) (*pb.GetGradeResponse, error) {
	return handle[*pb.GetGradeResponse](ctx, s.changes.getGrade, req)
}

func (s *grpcServer) UpdateGrade(ctx context.Context, req *pb.UpdateGradeRequest) (*pb.UpdateGradeResponse, error) {
	return handle[*pb.UpdateGradeResponse](ctx, s.changes.updateGrade, req)
}

func (s *grpcServer) RemoveGrade(ctx context.Context, req *pb.RemoveGradeRequest) (*pb.RemoveGradeResponse, error) {
	return handle[*pb.RemoveGradeResponse](ctx, s.changes.removeGrade, req)
}

func (s *grpcServer) GradeHistory(ctx context.Context, req *pb.GradeHistoryRequest) (*pb.GradeHistoryResponse, error) {
	return handle[*pb.GradeHistoryResponse](ctx, s.changes.history, req)
}

func (s *grpcServer) RenameStudent(ctx context.Context, req *pb.RenameStudentRequest) (*pb.RenameStudentResponse, error) {
	return handle[*pb.RenameStudentResponse](ctx, s.changes.renameStudent, req)
}

func (s *grpcServer) RemoveStudent(ctx context.Context, req *pb.RemoveStudentRequest) (*pb.RemoveStudentResponse, error) {
	return handle[*pb.RemoveStudentResponse](ctx, s.changes.removeStudent, req)
}

// decoder checks a request's type and converts it.
func decoder[M any](method string, convert func(M) any) func(context.Context, any) (any, error) {
	return func(_ context.Context, request any) (any, error) {
		req, ok := request.(M)
		if !ok {
			return nil, status.Errorf(codes.Internal, "grading: %s got %T", method, request)
		}
		return convert(req), nil
	}
}

var (
	decodeGetGradeRequest = decoder("GetGrade", func(r *pb.GetGradeRequest) any {
		return grading.GetGradeRequest{StudentID: pb.ToID(r.GetStudentId()), GradeID: pb.ToID(r.GetGradeId())}
	})
	decodeUpdateGradeRequest = decoder("UpdateGrade", func(r *pb.UpdateGradeRequest) any {
		return grading.UpdateGradeRequest{StudentID: pb.ToID(r.GetStudentId()), GradeID: pb.ToID(r.GetGradeId()),
			Change: pb.ToGradeChange(r.GetChange()), IfVersion: pb.ToVersion(r.IfVersion), IdempotencyKey: r.GetIdempotencyKey()}
	})
	decodeRemoveGradeRequest = decoder("RemoveGrade", func(r *pb.RemoveGradeRequest) any {
		return grading.RemoveGradeRequest{StudentID: pb.ToID(r.GetStudentId()), GradeID: pb.ToID(r.GetGradeId()),
			By: r.GetChangedBy(), IfVersion: pb.ToVersion(r.IfVersion), IdempotencyKey: r.GetIdempotencyKey()}
	})
	decodeGradeHistoryRequest = decoder("GradeHistory", func(r *pb.GradeHistoryRequest) any {
		return grading.GradeHistoryRequest{StudentID: pb.ToID(r.GetStudentId())}
	})
	decodeRenameStudentRequest = decoder("RenameStudent", func(r *pb.RenameStudentRequest) any {
		return grading.RenameStudentRequest{ID: pb.ToID(r.GetId()), FirstName: r.GetFirstName(), LastName: r.GetLastName()}
	})
	decodeRemoveStudentRequest = decoder("RemoveStudent", func(r *pb.RemoveStudentRequest) any {
		return grading.RemoveStudentRequest{ID: pb.ToID(r.GetId()), Force: r.GetForce()}
	})
)

// encodeChange is encode with a stale version answered FAILED_PRECONDITION rather than as the
// conflict it is to the rest of the service.
func encodeChange[R interface{ Failed() error }](response any, ok func(R) any) (any, error) {
	if r, isR := response.(R); isR && errors.Is(r.Failed(), grading.ErrVersionMismatch) {
		return nil, status.New(codes.FailedPrecondition, r.Failed().Error()).Err()
	}
	return encode(response, ok)
}

func encodeGetGradeResponse(_ context.Context, response any) (any, error) {
	return encodeChange(response, func(r grading.GetGradeResponse) any { return &pb.GetGradeResponse{Grade: pb.FromGrade(r.Grade)} })
}

func encodeUpdateGradeResponse(_ context.Context, response any) (any, error) {
	return encodeChange(response, func(r grading.UpdateGradeResponse) any {
		return &pb.UpdateGradeResponse{Grade: pb.FromGrade(r.Grade)}
	})
}

func encodeRemoveGradeResponse(_ context.Context, response any) (any, error) {
	return encodeChange(response, func(grading.RemoveGradeResponse) any { return &pb.RemoveGradeResponse{} })
}

func encodeGradeHistoryResponse(_ context.Context, response any) (any, error) {
	return encodeChange(response, func(r grading.GradeHistoryResponse) any {
		out := &pb.GradeHistoryResponse{Events: make([]*pb.GradeEvent, len(r.Events))}
		for i, e := range r.Events {
			out.Events[i] = pb.FromGradeEvent(e)
		}
		return out
	})
}

func encodeRenameStudentResponse(_ context.Context, response any) (any, error) {
	return encodeChange(response, func(r grading.RenameStudentResponse) any {
		return &pb.RenameStudentResponse{Student: pb.FromStudent(r.Student)}
	})
}

func encodeRemoveStudentResponse(_ context.Context, response any) (any, error) {
	return encodeChange(response, func(grading.RemoveStudentResponse) any { return &pb.RemoveStudentResponse{} })
}
