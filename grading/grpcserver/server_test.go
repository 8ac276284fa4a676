package grpcserver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingclient"
	"github.com/gradebook/gradebook/grading/gradingtest"
	"github.com/gradebook/gradebook/grading/grpcserver"
	"github.com/gradebook/gradebook/grading/pb"
	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/grpcx"
	"github.com/gradebook/gradebook/pkg/requestid"
)

// stubService answers every call with err (or panics when err is errPanic), and records the
// request ID each call carried.
type stubService struct {
	err  error
	seen chan string
}

var errPanic = errors.New("panic")

func (s *stubService) answer(ctx context.Context) error {
	if s.seen != nil {
		select {
		case s.seen <- requestid.FromContext(ctx):
		default:
		}
	}
	if s.err == errPanic {
		panic("the stub was told to panic")
	}
	return s.err
}

func (s *stubService) ListStudents(ctx context.Context) ([]grading.Student, error) {
	return nil, s.answer(ctx)
}

func (s *stubService) GetStudent(ctx context.Context, id int) (grading.Student, error) {
	return grading.Student{ID: id, FirstName: "A", LastName: "B", Grades: []grading.Grade{}}, s.answer(ctx)
}

func (s *stubService) AddStudent(ctx context.Context, first, last string) (grading.Student, error) {
	return grading.Student{ID: 1, FirstName: first, LastName: last, Grades: []grading.Grade{}}, s.answer(ctx)
}

func (s *stubService) AddGrade(ctx context.Context, _ int, g grading.Grade, _ string) (grading.Grade, error) {
	return g, s.answer(ctx)
}

// TestGRPCErrorMapping runs every kind of domain error through a real gRPC server and client:
// business errors come back as the same domain errors, inside the response; failures on the
// instance's side are the endpoint's error, for breakers and retries.
func TestGRPCErrorMapping(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		code      codes.Code
		transport bool // the endpoint fails rather than answering a business error
		check     func(error) bool
	}{
		{"not found", grading.ErrStudentNotFound, codes.NotFound, false, func(err error) bool { return errors.Is(err, grading.ErrStudentNotFound) }},
		{"field errors", errs.FieldErrors{"title": "is required", "score": "must be from 0 to 100, not 101"}, codes.InvalidArgument, false,
			func(err error) bool {
				var fe errs.FieldErrors
				return errors.As(err, &fe) && errors.Is(err, errs.ErrInvalid) && len(fe) == 2 &&
					fe["title"] == "is required" && fe["score"] == "must be from 0 to 100, not 101"
			}},
		{"invalid without fields", errs.New(errs.ErrInvalid, "bad"), codes.InvalidArgument, false,
			func(err error) bool { return errors.Is(err, errs.ErrInvalid) && err.Error() == "bad" }},
		{"idempotency conflict", grading.ErrIdempotencyConflict, codes.AlreadyExists, false, func(err error) bool { return errors.Is(err, grading.ErrIdempotencyConflict) }},
		{"unauthorized", errs.New(errs.ErrUnauthorized, "who are you"), codes.Unauthenticated, false,
			func(err error) bool { return errors.Is(err, errs.ErrUnauthorized) && err.Error() == "who are you" }},
		{"unavailable", errs.New(errs.ErrUnavailable, "store closed"), codes.Unavailable, true, nil},
		{"unknown failure", errors.New("disk on fire"), codes.Internal, true, nil},
		{"panic", errPanic, codes.Internal, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := &stubService{err: tc.err}
			if st := grpcx.StatusOf(tc.err); tc.err != errPanic && st.Code() != tc.code {
				t.Errorf("grpcx.StatusOf(%v) = %v, want %v", tc.err, st.Code(), tc.code)
			}
			eps := gradingtest.GRPCClient(t, svc, "")
			resp, err := eps.GetStudentEndpoint(context.Background(), grading.GetStudentRequest{ID: 1})
			if tc.transport {
				if err == nil || status.Code(err) != tc.code {
					t.Fatalf("endpoint = %v, %v; want a transport failure with code %v", resp, err, tc.code)
				}
				if strings.Contains(err.Error(), "disk on fire") {
					t.Errorf("an internal error leaked its text to the caller: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("endpoint failed with %v; a business error must come inside the response", err)
			}
			if got := resp.(grading.GetStudentResponse).Err; !tc.check(got) {
				t.Errorf("the client got %#v (%v)", got, got)
			}
			// And through the grading.Service interface, as a caller sees it.
			if _, err := eps.GetStudent(context.Background(), 1); !tc.check(err) {
				t.Errorf("GetStudent = %v", err)
			}
		})
	}
	// The server keeps serving after a panic.
	eps := gradingtest.GRPCClient(t, &stubService{err: errPanic}, "")
	for range 2 {
		if _, err := eps.ListStudents(context.Background()); status.Code(err) != codes.Internal {
			t.Fatalf("after a panic: %v", err)
		}
	}
}

func TestGRPCRequestIDBothWays(t *testing.T) {
	svc := &stubService{seen: make(chan string, 1)}
	addr := gradingtest.ServeGRPC(t, svc, "")
	conn, err := gradingclient.DialGRPC(addr, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// Through the client endpoints, the ID in the context reaches the service.
	eps := gradingclient.MakeGRPCClientEndpoints(conn)
	if _, err := eps.GetStudent(requestid.NewContext(context.Background(), "trace-me-7"), 1); err != nil {
		t.Fatal(err)
	}
	if got := <-svc.seen; got != "trace-me-7" {
		t.Errorf("the service saw request ID %q; want trace-me-7", got)
	}

	// The server echoes the caller's ID in its header, or makes one; an absurd one is replaced.
	for _, tc := range []struct{ sent, want string }{
		{"trace-me-8", "trace-me-8"}, {"", ""}, {strings.Repeat("x", 200), ""},
	} {
		ctx := context.Background()
		if tc.sent != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, grpcx.RequestIDMetadata, tc.sent)
		}
		var header metadata.MD
		if err := conn.Invoke(ctx, pb.Grading_GetStudent_FullMethodName, &pb.GetStudentRequest{Id: 1}, &pb.GetStudentResponse{}, grpc.Header(&header)); err != nil {
			t.Fatal(err)
		}
		got := header.Get(grpcx.RequestIDMetadata)
		seen := <-svc.seen
		if len(got) != 1 || got[0] != seen || (tc.want != "" && got[0] != tc.want) || (tc.want == "" && (got[0] == "" || got[0] == tc.sent)) {
			t.Errorf("sent %q: header %q, service saw %q; want %q (or a fresh ID)", tc.sent, got, seen, tc.want)
		}
	}
}

func TestGRPCTokenGuardsWrites(t *testing.T) {
	addr := gradingtest.ServeGRPC(t, gradingtest.NewService(t), "s3cret")
	dial := func(token string) grading.Service {
		conn, err := gradingclient.DialGRPC(addr, token)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return gradingclient.MakeGRPCClientEndpoints(conn)
	}
	ctx := context.Background()
	for name, svc := range map[string]grading.Service{"no token": dial(""), "wrong token": dial("guess")} {
		if _, err := svc.AddStudent(ctx, "Ada", "Lovelace"); !errors.Is(err, errs.ErrUnauthorized) {
			t.Errorf("%s: AddStudent = %v; want unauthorized", name, err)
		}
		if _, err := svc.AddGrade(ctx, 1, grading.Grade{Title: "Q", Type: grading.TypeQuiz, Score: 1}, ""); !errors.Is(err, errs.ErrUnauthorized) {
			t.Errorf("%s: AddGrade = %v; want unauthorized", name, err)
		}
		if _, err := svc.ListStudents(ctx); err != nil {
			t.Errorf("%s: reads need no token, but ListStudents = %v", name, err)
		}
	}
	svc := dial("s3cret")
	st, err := svc.AddStudent(ctx, "Ada", "Lovelace")
	if err != nil {
		t.Fatalf("with the token: %v", err)
	}
	if _, err := svc.AddGrade(ctx, st.ID, grading.Grade{Title: "Q", Type: grading.TypeQuiz, Score: 1}, ""); err != nil {
		t.Fatalf("with the token: %v", err)
	}
}

// rawCodec sends bytes as they are, so a test can put anything on the wire.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return v.([]byte), nil }
func (rawCodec) Unmarshal(b []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), b...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

func TestGRPCBadInput(t *testing.T) {
	addr := gradingtest.ServeGRPC(t, gradingtest.NewService(t), "")
	// A client that would send more than the server takes.
	conn, err := gradingclient.DialGRPC(addr, "", grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(8<<20)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	notUTF8, _ := proto.Marshal(wrapperspb.Bytes([]byte{0xff, 0xfe}))
	tests := []struct {
		name string
		wire []byte
		code codes.Code
	}{
		{"truncated", []byte{0x0a, 0x05, 'A'}, codes.InvalidArgument},
		{"bad varint", []byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, codes.InvalidArgument},
		{"first name not UTF-8", notUTF8, codes.InvalidArgument},
		{"empty message", []byte{}, codes.InvalidArgument}, // decodes, then fails validation
		{"over 1 MiB", append([]byte{0x0a, 0x80, 0x80, 0x80, 0x01}, make([]byte, 2<<20)...), codes.ResourceExhausted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out []byte
			err := conn.Invoke(context.Background(), pb.Grading_AddStudent_FullMethodName, tc.wire, &out, grpc.ForceCodec(rawCodec{}))
			if status.Code(err) != tc.code {
				t.Fatalf("AddStudent(%d bytes) = %v; want %v", len(tc.wire), err, tc.code)
			}
		})
	}
	// Through the client, an oversized request is the caller's mistake, not the instance's.
	eps := gradingclient.MakeGRPCClientEndpoints(conn)
	resp, err := eps.AddStudentEndpoint(context.Background(), grading.AddStudentRequest{FirstName: strings.Repeat("x", 2<<20), LastName: "Y"})
	if err != nil || !errors.Is(resp.(grading.AddStudentResponse).Err, errs.ErrInvalid) {
		t.Fatalf("oversized AddStudent = %v, %v; want a business ErrInvalid", resp, err)
	}
	// Ids beyond any student are NOT_FOUND, never a panic.
	for _, id := range []int64{0, -1, math.MinInt64, math.MaxInt64} {
		err := conn.Invoke(context.Background(), pb.Grading_GetStudent_FullMethodName, &pb.GetStudentRequest{Id: id}, &pb.GetStudentResponse{})
		if status.Code(err) != codes.NotFound {
			t.Errorf("GetStudent(%d) = %v; want NotFound", id, err)
		}
	}
}

func TestGRPCCancelledCallIsTheCallersError(t *testing.T) {
	eps := gradingtest.GRPCClient(t, &stubService{}, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := eps.GetStudentEndpoint(ctx, grading.GetStudentRequest{ID: 1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call = %v; want context.Canceled, which breakers and retries ignore", err)
	}
}

// FuzzGRPCAddGrade decodes arbitrary wire bytes as an AddGradeRequest and serves it: whatever
// decodes must be answered with a business status and never a panic, and anything accepted must
// be a valid grade.
func FuzzGRPCAddGrade(f *testing.F) {
	seed := func(m *pb.AddGradeRequest) {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seed(&pb.AddGradeRequest{StudentId: 1, Grade: &pb.Grade{Title: "Quiz 1", Type: grading.TypeQuiz, Score: 85}})
	seed(&pb.AddGradeRequest{StudentId: 1, Grade: &pb.Grade{Title: " ", Type: "Exam", Score: math.NaN()}, IdempotencyKey: "k"})
	seed(&pb.AddGradeRequest{StudentId: math.MaxInt64, Grade: &pb.Grade{Title: "T", Type: grading.TypeTest, Score: math.Inf(1)}})
	seed(&pb.AddGradeRequest{StudentId: -1})
	seed(&pb.AddGradeRequest{StudentId: 1, Grade: &pb.Grade{Title: "T", Type: grading.TypeHomework, Score: 100}, IdempotencyKey: strings.Repeat("k", 300)})
	f.Add([]byte{0x12, 0x02, 0x0a})
	srv := grpcserver.NewServer(grading.MakeServerEndpoints(newOneStudentService(f)), nil)
	f.Fuzz(func(t *testing.T, wire []byte) {
		var req pb.AddGradeRequest
		if proto.Unmarshal(wire, &req) != nil {
			return // Register answers undecodable messages InvalidArgument (TestGRPCBadInput)
		}
		resp, err := srv.AddGrade(context.Background(), &req)
		switch code := status.Code(err); code {
		case codes.OK:
			g := pb.ToGrade(resp.GetGrade())
			if len(g.Valid(context.Background())) > 0 || g.Title != strings.TrimSpace(g.Title) {
				t.Fatalf("accepted an invalid grade %+v from %v", g, fmt.Sprint(&req))
			}
		case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists:
		default:
			t.Fatalf("AddGrade(%v) = %v", fmt.Sprint(&req), err)
		}
	})
}

// newOneStudentService is the service over a store that holds one student, ID 1.
func newOneStudentService(t testing.TB) grading.Service {
	svc := gradingtest.NewService(t)
	if _, err := svc.AddStudent(context.Background(), "A", "B"); err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestGRPCLogsOnlyServerFailures: a failure on the instance's side gets an error line of its
// own, with the call's request ID; a business error, which the access log already records, gets
// none.
func TestGRPCLogsOnlyServerFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		code codes.Code
		logs bool
	}{
		{"not found", grading.ErrStudentNotFound, codes.NotFound, false},
		{"invalid", errs.FieldErrors{"title": "is required"}, codes.InvalidArgument, false},
		{"internal", errors.New("disk on fire"), codes.Internal, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			srv := grpcserver.NewServer(grading.MakeServerEndpoints(&stubService{err: tc.err}), log.NewLogfmtLogger(&buf))
			ctx := requestid.NewContext(context.Background(), "req-7")
			_, err := srv.GetStudent(ctx, &pb.GetStudentRequest{Id: 1})
			if status.Code(err) != tc.code {
				t.Fatalf("GetStudent = %v, want %v", err, tc.code)
			}
			line := buf.String()
			switch {
			case tc.logs && (!strings.Contains(line, "level=error") || !strings.Contains(line, "gRPC transport failed") || !strings.Contains(line, "req-7")):
				t.Errorf("a server failure logged %q, want an error line with the request ID", line)
			case !tc.logs && line != "":
				t.Errorf("a business error logged %q", line)
			}
		})
	}
}
