package grpcserver_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingclient"
	"github.com/gradebook/gradebook/grading/gradingtest"
	"github.com/gradebook/gradebook/grading/pb"
	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/grpcx"
)

// wireString appends field num as a string of raw bytes, valid UTF-8 or not: what a client that
// does not validate (any language's, or a hand-made one) can send.
func wireString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// protobuf refuses a string field that is not UTF-8, but said only "string field contains
// invalid UTF-8": the answer names the field now, as a field error the client gives back as
// errs.FieldErrors, the same as the HTTP API's 400.
func TestGRPCInvalidUTF8NamesTheField(t *testing.T) {
	svc := gradingtest.NewDemoService(t)
	addr := gradingtest.ServeGRPC(t, svc, "")
	conn, err := gradingclient.DialGRPC(addr, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// addGrade is an AddGradeRequest for student 1 with a grade of this title.
	addGrade := func(title string) []byte {
		grade := wireString(wireString(nil, 1, title), 2, grading.TypeQuiz)
		b := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1)
		return protowire.AppendBytes(protowire.AppendTag(b, 2, protowire.BytesType), grade)
	}

	for _, tc := range []struct {
		name, method string
		wire         []byte
		field        string
	}{
		{"first name", pb.Grading_AddStudent_FullMethodName, wireString(wireString(nil, 1, "Ann\xc3"), 2, "Lee"), "firstName"},
		{"last name", pb.Grading_AddStudent_FullMethodName, wireString(wireString(nil, 1, "Ann"), 2, "\xed\xa0\x80"), "lastName"},
		{"a grade's title", pb.Grading_AddGrade_FullMethodName, addGrade("Quiz \xff"), "grade.title"},
		{"idempotency key", pb.Grading_AddGrade_FullMethodName, wireString(addGrade("Quiz"), 3, "k\xff"), "idempotencyKey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out []byte
			err := conn.Invoke(context.Background(), tc.method, tc.wire, &out, grpc.ForceCodec(rawCodec{}))
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument {
				t.Fatalf("%s with invalid UTF-8 in %s = %v; want InvalidArgument", tc.method, tc.field, err)
			}
			got, business := grpcx.ErrorOf(st)
			var fe errs.FieldErrors
			if !business || !errors.As(got, &fe) || fe[tc.field] != "must be valid UTF-8 text" {
				t.Fatalf("%s: the status gives back %v; want a field error naming %s", tc.method, got, tc.field)
			}
		})
	}
	st, err := svc.GetStudent(context.Background(), 1)
	if err != nil || len(st.Grades) != 3 {
		t.Errorf("after the refused writes, student 1 = %+v, %v; want its three demo grades", st, err)
	}
}
