package grading

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"google.golang.org/grpc"

	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/httpx"
)

// testService asserts what any Service must do, whatever transport sits between the test and
// the implementation. s must be backed by an empty store.
func testService(t *testing.T, s Service) {
	ctx := httpx.WithRequestID(context.Background(), "suite")

	t.Run("empty", func(t *testing.T) {
		all, err := s.ListStudents(ctx)
		if err != nil || len(all) != 0 {
			t.Fatalf("ListStudents() = %v, %v; want none", all, err)
		}
	})

	var averill, marge Student
	t.Run("AddStudent", func(t *testing.T) {
		var err error
		averill, err = s.AddStudent(ctx, "  Averill ", "Simen")
		if err != nil {
			t.Fatal(err)
		}
		if averill.ID <= 0 || averill.FirstName != "Averill" || averill.LastName != "Simen" {
			t.Errorf("AddStudent = %+v, want a new ID and trimmed names", averill)
		}
		if averill.Average != nil || averill.Grades == nil || len(averill.Grades) != 0 {
			t.Errorf("new student = %+v, want no grades ([]) and no average", averill)
		}
		marge, err = s.AddStudent(ctx, "Marge", "Garrard")
		if err != nil || marge.ID <= averill.ID {
			t.Errorf("second student = %+v, %v; want a larger ID than %d", marge, err, averill.ID)
		}
	})

	t.Run("AddStudent invalid", func(t *testing.T) {
		_, err := s.AddStudent(ctx, "", strings.Repeat("x", 101))
		var fe errs.FieldErrors
		if !errors.As(err, &fe) || !errors.Is(err, errs.ErrInvalid) || fe["firstName"] == "" || fe["lastName"] == "" {
			t.Errorf("AddStudent(\"\", 101 x) = %v, want FieldErrors naming firstName and lastName", err)
		}
	})

	t.Run("AddGrade and average", func(t *testing.T) {
		for _, g := range []Grade{{"Quiz 1", TypeQuiz, 85}, {" Week 1 Homework ", TypeHomework, 94}, {"Quiz 2", TypeQuiz, 82.5}} {
			got, err := s.AddGrade(ctx, averill.ID, g, "")
			if err != nil {
				t.Fatalf("AddGrade(%v) = %v", g, err)
			}
			if want := g.Normalized(); got != want {
				t.Errorf("AddGrade(%v) = %v, want %v", g, got, want)
			}
		}
		st, err := s.GetStudent(ctx, averill.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Grades) != 3 || st.Grades[1].Title != "Week 1 Homework" {
			t.Errorf("grades = %v", st.Grades)
		}
		if st.Average == nil || math.Abs(*st.Average-87.166666) > 1e-3 {
			t.Errorf("average = %v, want 87.17", st.Average)
		}
	})

	t.Run("AddGrade invalid", func(t *testing.T) {
		for _, g := range []Grade{{"", TypeQuiz, 50}, {"Quiz", "Exam", 50}, {"Quiz", TypeQuiz, 101}, {"Quiz", TypeQuiz, math.NaN()}, {"Quiz", TypeQuiz, math.Inf(-1)}} {
			_, err := s.AddGrade(ctx, averill.ID, g, "")
			var fe errs.FieldErrors
			if !errors.As(err, &fe) || !errors.Is(err, errs.ErrInvalid) {
				t.Errorf("AddGrade(%v) = %v, want FieldErrors", g, err)
			}
		}
		if st, _ := s.GetStudent(ctx, averill.ID); len(st.Grades) != 3 {
			t.Errorf("invalid grades were stored: %v", st.Grades)
		}
	})

	t.Run("not found", func(t *testing.T) {
		for _, id := range []int{0, -1, 1 << 40} {
			if _, err := s.GetStudent(ctx, id); !errors.Is(err, ErrStudentNotFound) || !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("GetStudent(%d) = %v, want ErrStudentNotFound", id, err)
			}
			if _, err := s.AddGrade(ctx, id, Grade{"Quiz", TypeQuiz, 1}, ""); !errors.Is(err, ErrStudentNotFound) {
				t.Errorf("AddGrade(%d) = %v, want ErrStudentNotFound", id, err)
			}
		}
	})

	t.Run("idempotency", func(t *testing.T) {
		g := Grade{"Quiz 3", TypeQuiz, 90}
		first, err := s.AddGrade(ctx, marge.ID, g, "form-123")
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.AddGrade(ctx, marge.ID, g, "form-123")
		if err != nil || again != first {
			t.Errorf("repeat = %v, %v; want the first answer %v", again, err, first)
		}
		if st, _ := s.GetStudent(ctx, marge.ID); len(st.Grades) != 1 {
			t.Errorf("same key twice stored %d grades, want 1", len(st.Grades))
		}
		_, err = s.AddGrade(ctx, marge.ID, Grade{"Quiz 3", TypeQuiz, 95}, "form-123")
		if !errors.Is(err, ErrIdempotencyConflict) || !errors.Is(err, errs.ErrConflict) {
			t.Errorf("key reused for another grade = %v, want ErrIdempotencyConflict", err)
		}
	})

	t.Run("ListStudents", func(t *testing.T) {
		all, err := s.ListStudents(ctx)
		if err != nil || len(all) != 2 {
			t.Fatalf("ListStudents() = %v, %v", all, err)
		}
		if all[0].ID != averill.ID || all[1].ID != marge.ID || all[0].Average == nil || len(all[1].Grades) != 1 {
			t.Errorf("ListStudents() = %+v", all)
		}
	})
}

func TestServiceLocal(t *testing.T) {
	testService(t, NewService(newBoltStore(t)))
}

func TestServiceOverHTTP(t *testing.T) {
	testService(t, newHTTPClient(t, NewService(newBoltStore(t))))
}

func TestServiceOverGRPC(t *testing.T) {
	testService(t, newGRPCClient(t, NewService(newBoltStore(t)), ""))
}

// newHTTPClient serves svc on an httptest server and returns the HTTP client endpoints for it.
func newHTTPClient(t testing.TB, svc Service) Endpoints {
	t.Helper()
	srv := httptest.NewServer(MakeHTTPHandler(MakeServerEndpoints(svc), log.NewNopLogger()))
	client := &http.Client{}
	t.Cleanup(func() {
		client.CloseIdleConnections()
		srv.Close()
	})
	eps, err := MakeHTTPClientEndpoints(srv.Listener.Addr().String(), client)
	if err != nil {
		t.Fatal(err)
	}
	return eps
}

// newGRPCClient serves svc on a real gRPC server on a 127.0.0.1 socket, with the options the
// service runs with (token guards writes when set), and returns the gRPC client endpoints for it.
// The client sends no token: tests that need one dial their own.
func newGRPCClient(t testing.TB, svc Service, token string) Endpoints {
	t.Helper()
	addr := startGRPC(t, svc, token)
	conn, err := DialGRPC(addr, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return MakeGRPCClientEndpoints(conn)
}

// startGRPC serves svc over gRPC until the test ends and answers its address.
func startGRPC(t testing.TB, svc Service, token string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(GRPCServerOptions(token, log.NewNopLogger())...)
	RegisterGRPCServer(srv, NewGRPCServer(MakeServerEndpoints(svc), log.NewNopLogger()))
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return ln.Addr().String()
}
