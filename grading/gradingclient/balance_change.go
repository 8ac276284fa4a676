package gradingclient

import (
	"context"

	"github.com/go-kit/kit/endpoint"

	"github.com/gradebook/gradebook/grading"
)

// balancedChanges makes the load-balanced endpoints of grade corrections, removals, history and
// student changes, each with its own round robin from balanced. As for the others, a call moves
// to another instance after a transport failure only when repeating it is safe: reads, renames
// (which set the same names again), and corrections and removals that carry an Idempotency-Key.
// A removal of a student is never repeated: a second one would answer 404.
func balancedChanges(balanced func() (retrying, once endpoint.Endpoint)) grading.Endpoints {
	getGrade, _ := balanced()
	history, _ := balanced()
	rename, _ := balanced()
	_, removeStudent := balanced()
	keyedUpdate, unkeyedUpdate := balanced()
	keyedRemove, unkeyedRemove := balanced()
	return grading.Endpoints{
		GetGradeEndpoint:     getGrade,
		GradeHistoryEndpoint: history,
		UpdateGradeEndpoint: func(ctx context.Context, request any) (any, error) {
			if req, ok := request.(grading.UpdateGradeRequest); ok && req.IdempotencyKey != "" {
				return keyedUpdate(ctx, request)
			}
			return unkeyedUpdate(ctx, request)
		},
		RemoveGradeEndpoint: func(ctx context.Context, request any) (any, error) {
			if req, ok := request.(grading.RemoveGradeRequest); ok && req.IdempotencyKey != "" {
				return keyedRemove(ctx, request)
			}
			return unkeyedRemove(ctx, request)
		},
		RenameStudentEndpoint: rename,
		RemoveStudentEndpoint: removeStudent,
	}
}
