package grpcserver_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingclient"
	"github.com/gradebook/gradebook/grading/gradingtest"
	"github.com/gradebook/gradebook/grading/pb"
)

// TestGRPCChangeCodes calls the new methods with the generated client, as any gRPC client
// would, and checks the codes: FAILED_PRECONDITION for a stale version, NOT_FOUND for an unknown
// grade, ALREADY_EXISTS for a student with grades, and the token on every write.
func TestGRPCChangeCodes(t *testing.T) {
	const token = "s3cret"
	addr := gradingtest.ServeGRPC(t, gradingtest.NewDemoService(t), token)
	conn, err := gradingclient.DialGRPC(addr, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewGradingClient(conn)
	anon := context.Background()
	ctx := metadata.AppendToOutgoingContext(anon, "authorization", "Bearer "+token)

	// Writes need the token; reads do not.
	if _, err := client.UpdateGrade(anon, &pb.UpdateGradeRequest{StudentId: 1, GradeId: 1, Change: &pb.GradeChange{Score: proto.Float64(1)}}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("UpdateGrade without the token = %v, want UNAUTHENTICATED", err)
	}
	for name, call := range map[string]func() error{
		"RemoveGrade": func() error {
			_, err := client.RemoveGrade(anon, &pb.RemoveGradeRequest{StudentId: 1, GradeId: 1})
			return err
		},
		"RenameStudent": func() error {
			_, err := client.RenameStudent(anon, &pb.RenameStudentRequest{Id: 1, FirstName: "A", LastName: "B"})
			return err
		},
		"RemoveStudent": func() error {
			_, err := client.RemoveStudent(anon, &pb.RemoveStudentRequest{Id: 1, Force: true})
			return err
		},
	} {
		if err := call(); status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s without the token = %v, want UNAUTHENTICATED", name, err)
		}
	}
	got, err := client.GetGrade(anon, &pb.GetGradeRequest{StudentId: 1, GradeId: 2})
	if err != nil || got.GetGrade().GetId() != 2 || got.GetGrade().GetVersion() != 1 {
		t.Fatalf("GetGrade = %v, %v", got, err)
	}
	updated, err := client.UpdateGrade(ctx, &pb.UpdateGradeRequest{StudentId: 1, GradeId: 2, IfVersion: proto.Int64(1),
		Change: &pb.GradeChange{Score: proto.Float64(50), ChangedBy: "krabappel"}})
	if err != nil || updated.GetGrade().GetVersion() != 2 || updated.GetGrade().GetScore() != 50 {
		t.Fatalf("UpdateGrade = %v, %v", updated, err)
	}
	_, err = client.UpdateGrade(ctx, &pb.UpdateGradeRequest{StudentId: 1, GradeId: 2, IfVersion: proto.Int64(1), Change: &pb.GradeChange{Score: proto.Float64(60)}})
	if status.Code(err) != codes.FailedPrecondition || status.Convert(err).Message() != grading.ErrVersionMismatch.Error() {
		t.Errorf("UpdateGrade at a stale version = %v, want FAILED_PRECONDITION: %s", err, grading.ErrVersionMismatch)
	}
	if _, err := client.RemoveGrade(ctx, &pb.RemoveGradeRequest{StudentId: 1, GradeId: 2, IfVersion: proto.Int64(1)}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("RemoveGrade at a stale version = %v, want FAILED_PRECONDITION", err)
	}
	if _, err := client.UpdateGrade(ctx, &pb.UpdateGradeRequest{StudentId: 1, GradeId: 2}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("UpdateGrade without a change = %v, want INVALID_ARGUMENT", err)
	}
	if _, err := client.RemoveGrade(ctx, &pb.RemoveGradeRequest{StudentId: 1, GradeId: 4}); status.Code(err) != codes.NotFound {
		t.Errorf("RemoveGrade(another student's grade) = %v, want NOT_FOUND", err)
	}
	if _, err := client.RemoveGrade(ctx, &pb.RemoveGradeRequest{StudentId: 1, GradeId: 2, ChangedBy: "krabappel"}); err != nil {
		t.Errorf("RemoveGrade = %v", err)
	}
	history, err := client.GradeHistory(anon, &pb.GradeHistoryRequest{StudentId: 1})
	if err != nil || len(history.GetEvents()) != 2 || history.GetEvents()[1].GetAction() != grading.ActionRemoved ||
		history.GetEvents()[1].GetNew() != nil || history.GetEvents()[0].GetNew().GetScore() != 50 || history.GetEvents()[0].GetBy() != "krabappel" {
		t.Errorf("GradeHistory = %v, %v; want the correction and the removal", history, err)
	}
	if _, err := client.RemoveStudent(ctx, &pb.RemoveStudentRequest{Id: 1}); status.Code(err) != codes.AlreadyExists ||
		status.Convert(err).Message() != grading.ErrStudentHasGrades.Error() {
		t.Errorf("RemoveStudent(with grades) = %v, want ALREADY_EXISTS: %s", err, grading.ErrStudentHasGrades)
	}
	renamed, err := client.RenameStudent(ctx, &pb.RenameStudentRequest{Id: 1, FirstName: "Avery", LastName: "Simen"})
	if err != nil || renamed.GetStudent().GetFirstName() != "Avery" || len(renamed.GetStudent().GetGrades()) != 2 {
		t.Errorf("RenameStudent = %v, %v", renamed, err)
	}
	if _, err := client.RemoveStudent(ctx, &pb.RemoveStudentRequest{Id: 1, Force: true}); err != nil {
		t.Errorf("RemoveStudent(force) = %v", err)
	}
	// The client endpoints turn the codes back into grading's errors.
	eps := gradingclient.MakeGRPCClientEndpoints(conn)
	if _, err := eps.GetGrade(anon, 1, 1); !errors.Is(err, grading.ErrStudentNotFound) {
		t.Errorf("GetGrade(removed student) = %v, want ErrStudentNotFound", err)
	}
	if _, err := eps.GetGrade(anon, 2, 1); !errors.Is(err, grading.ErrGradeNotFound) {
		t.Errorf("GetGrade(another student's grade) = %v, want ErrGradeNotFound", err)
	}
}
