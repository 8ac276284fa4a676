package grading_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingtest"
	"github.com/gradebook/gradebook/grading/pgstore"
	"github.com/gradebook/gradebook/grading/pgtest"
	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/requestid"
)

// testService asserts what any grading.Service must do, whatever transport sits between the test
// and the implementation. newService returns a fresh service over an empty store: each subtest
// gets its own, so that none depends on what another did.
func testService(t *testing.T, newService func(t *testing.T) grading.Service) {
	ctx := requestid.NewContext(context.Background(), "suite")
	// withStudents is a fresh service holding Averill Simen and Marge Garrard, in that order.
	withStudents := func(t *testing.T) (s grading.Service, averill, marge grading.Student) {
		t.Helper()
		s = newService(t)
		var err error
		if averill, err = s.AddStudent(ctx, "Averill", "Simen"); err != nil {
			t.Fatal(err)
		}
		if marge, err = s.AddStudent(ctx, "Marge", "Garrard"); err != nil {
			t.Fatal(err)
		}
		return s, averill, marge
	}

	testChanges(t, newService)

	t.Run("empty", func(t *testing.T) {
		s := newService(t)
		all, err := s.ListStudents(ctx)
		if err != nil || len(all) != 0 {
			t.Fatalf("ListStudents() = %v, %v; want none", all, err)
		}
	})

	t.Run("AddStudent", func(t *testing.T) {
		s := newService(t)
		averill, err := s.AddStudent(ctx, "  Averill ", "Simen")
		if err != nil {
			t.Fatal(err)
		}
		if averill.ID <= 0 || averill.FirstName != "Averill" || averill.LastName != "Simen" {
			t.Errorf("AddStudent = %+v, want a new ID and trimmed names", averill)
		}
		if averill.Average != nil || averill.Grades == nil || len(averill.Grades) != 0 {
			t.Errorf("new student = %+v, want no grades ([]) and no average", averill)
		}
		marge, err := s.AddStudent(ctx, "Marge", "Garrard")
		if err != nil || marge.ID <= averill.ID {
			t.Errorf("second student = %+v, %v; want a larger ID than %d", marge, err, averill.ID)
		}
	})

	t.Run("AddStudent invalid", func(t *testing.T) {
		s := newService(t)
		_, err := s.AddStudent(ctx, "", strings.Repeat("x", 101))
		var fe errs.FieldErrors
		if !errors.As(err, &fe) || !errors.Is(err, errs.ErrInvalid) || fe["firstName"] == "" || fe["lastName"] == "" {
			t.Errorf("AddStudent(\"\", 101 x) = %v, want FieldErrors naming firstName and lastName", err)
		}
	})

	t.Run("AddGrade and average", func(t *testing.T) {
		s, averill, _ := withStudents(t)
		for _, g := range []grading.Grade{{Title: "Quiz 1", Type: grading.TypeQuiz, Score: 85}, {Title: " Week 1 Homework ", Type: grading.TypeHomework, Score: 94}, {Title: "Quiz 2", Type: grading.TypeQuiz, Score: 82.5}} {
			got, err := s.AddGrade(ctx, averill.ID, g, "")
			if err != nil {
				t.Fatalf("AddGrade(%v) = %v", g, err)
			}
			if want := g.Normalized(); !got.SameEntry(want) || got.EnteredAt.IsZero() {
				t.Errorf("AddGrade(%v) = %v, want %v entered at some time", g, got, want)
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
		s, averill, _ := withStudents(t)
		for _, g := range []grading.Grade{{Title: "", Type: grading.TypeQuiz, Score: 50}, {Title: "Quiz", Type: "Exam", Score: 50}, {Title: "Quiz", Type: grading.TypeQuiz, Score: 101}, {Title: "Quiz", Type: grading.TypeQuiz, Score: math.NaN()}, {Title: "Quiz", Type: grading.TypeQuiz, Score: math.Inf(-1)}} {
			_, err := s.AddGrade(ctx, averill.ID, g, "")
			var fe errs.FieldErrors
			if !errors.As(err, &fe) || !errors.Is(err, errs.ErrInvalid) {
				t.Errorf("AddGrade(%v) = %v, want FieldErrors", g, err)
			}
		}
		if st, _ := s.GetStudent(ctx, averill.ID); len(st.Grades) != 0 {
			t.Errorf("invalid grades were stored: %v", st.Grades)
		}
	})

	// The input policy holds whatever the transport and the store: control characters are
	// refused in names and titles (NUL would be kept by bbolt and refused by PostgreSQL), and a
	// score of -0 is stored and answered as 0.
	t.Run("control characters refused", func(t *testing.T) {
		s, averill, _ := withStudents(t)
		for _, bad := range []string{"Ann\x00", "\x1b[31mAnn", "An\x7fn", "An\u0085n", "An\u009bn", "An\tn", "Ann\nLee"} {
			_, err := s.AddStudent(ctx, bad, "Lee")
			var fe errs.FieldErrors
			if !errors.As(err, &fe) || !strings.Contains(fe["firstName"], "control characters") {
				t.Errorf("AddStudent(%q) = %v, want a field error naming firstName", bad, err)
			}
			_, err = s.AddGrade(ctx, averill.ID, grading.Grade{Title: bad, Type: grading.TypeQuiz, Score: 1}, "")
			if !errors.As(err, &fe) || !strings.Contains(fe["title"], "control characters") {
				t.Errorf("AddGrade(title %q) = %v, want a field error naming title", bad, err)
			}
		}
		if st, _ := s.GetStudent(ctx, averill.ID); len(st.Grades) != 0 {
			t.Errorf("grades with control characters were stored: %+v", st.Grades)
		}
		if all, _ := s.ListStudents(ctx); len(all) != 2 {
			t.Errorf("students with control characters were stored: %+v", all)
		}
	})

	t.Run("-0 stored as 0", func(t *testing.T) {
		s, averill, _ := withStudents(t)
		g, err := s.AddGrade(ctx, averill.ID, grading.Grade{Title: "Pop quiz", Type: grading.TypeQuiz, Score: math.Copysign(0, -1)}, "")
		if err != nil || math.Signbit(g.Score) {
			t.Fatalf("AddGrade(-0) = %v, %v; want a score of +0", g, err)
		}
		st, err := s.GetStudent(ctx, averill.ID)
		if err != nil || len(st.Grades) != 1 || math.Signbit(st.Grades[0].Score) || st.Average == nil || math.Signbit(*st.Average) {
			t.Errorf("student after a -0 grade = %+v, %v; want score and average +0", st, err)
		}
	})

	t.Run("not found", func(t *testing.T) {
		s := newService(t)
		for _, id := range []int{0, -1, 1 << 40} {
			if _, err := s.GetStudent(ctx, id); !errors.Is(err, grading.ErrStudentNotFound) || !errors.Is(err, errs.ErrNotFound) {
				t.Errorf("GetStudent(%d) = %v, want grading.ErrStudentNotFound", id, err)
			}
			if _, err := s.AddGrade(ctx, id, grading.Grade{Title: "Quiz", Type: grading.TypeQuiz, Score: 1}, ""); !errors.Is(err, grading.ErrStudentNotFound) {
				t.Errorf("AddGrade(%d) = %v, want grading.ErrStudentNotFound", id, err)
			}
		}
	})

	t.Run("idempotency", func(t *testing.T) {
		s, _, marge := withStudents(t)
		g := grading.Grade{Title: "Quiz 3", Type: grading.TypeQuiz, Score: 90}
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
		_, err = s.AddGrade(ctx, marge.ID, grading.Grade{Title: "Quiz 3", Type: grading.TypeQuiz, Score: 95}, "form-123")
		if !errors.Is(err, grading.ErrIdempotencyConflict) || !errors.Is(err, errs.ErrConflict) {
			t.Errorf("key reused for another grade = %v, want grading.ErrIdempotencyConflict", err)
		}
	})

	t.Run("AddGrade records who entered it and when", func(t *testing.T) {
		s, averill, _ := withStudents(t)
		before := time.Now().Add(-time.Second)
		// A client's claim of when is ignored: grading's clock decides.
		claimed := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
		got, err := s.AddGrade(ctx, averill.ID, grading.Grade{Title: "Quiz 1", Type: grading.TypeQuiz, Score: 80, EnteredBy: "frizzle", EnteredAt: claimed}, "key-entered")
		if err != nil {
			t.Fatal(err)
		}
		after := time.Now().Add(time.Second)
		if got.EnteredBy != "frizzle" || got.EnteredAt.Before(before) || got.EnteredAt.After(after) {
			t.Errorf("AddGrade = %+v, want entered by frizzle between %v and %v", got, before, after)
		}
		st, err := s.GetStudent(ctx, averill.ID)
		if err != nil || len(st.Grades) != 1 {
			t.Fatalf("GetStudent = %+v, %v", st, err)
		}
		if g := st.Grades[0]; g.EnteredBy != "frizzle" || !g.EnteredAt.Equal(got.EnteredAt) {
			t.Errorf("stored grade = %+v, want entered by frizzle at %v", g, got.EnteredAt)
		}
		// A repeat under the same key is the same entry, however much later it comes.
		again, err := s.AddGrade(ctx, averill.ID, grading.Grade{Title: "Quiz 1", Type: grading.TypeQuiz, Score: 80, EnteredBy: "frizzle"}, "key-entered")
		if err != nil || !again.EnteredAt.Equal(got.EnteredAt) {
			t.Errorf("repeat = %+v, %v; want the first answer %+v", again, err, got)
		}
		// The same key from someone else is another request.
		if _, err := s.AddGrade(ctx, averill.ID, grading.Grade{Title: "Quiz 1", Type: grading.TypeQuiz, Score: 80, EnteredBy: "mallory"}, "key-entered"); !errors.Is(err, grading.ErrIdempotencyConflict) {
			t.Errorf("same key, another teacher = %v, want grading.ErrIdempotencyConflict", err)
		}
		_, err = s.AddGrade(ctx, averill.ID, grading.Grade{Title: "Quiz 2", Type: grading.TypeQuiz, Score: 80, EnteredBy: strings.Repeat("x", grading.MaxEnteredByLen+1)}, "")
		var fe errs.FieldErrors
		if !errors.As(err, &fe) || fe["enteredBy"] == "" {
			t.Errorf("overlong enteredBy = %v, want a field error on enteredBy", err)
		}
	})

	t.Run("ListStudents", func(t *testing.T) {
		s, averill, marge := withStudents(t)
		if _, err := s.AddGrade(ctx, marge.ID, grading.Grade{Title: "Quiz 1", Type: grading.TypeQuiz, Score: 70}, ""); err != nil {
			t.Fatal(err)
		}
		all, err := s.ListStudents(ctx)
		if err != nil || len(all) != 2 {
			t.Fatalf("ListStudents() = %v, %v", all, err)
		}
		if all[0].ID != averill.ID || all[1].ID != marge.ID || all[0].Average != nil || all[1].Average == nil || len(all[1].Grades) != 1 {
			t.Errorf("ListStudents() = %+v", all)
		}
	})
}

func TestServiceLocal(t *testing.T) {
	testService(t, func(t *testing.T) grading.Service { return gradingtest.NewService(t) })
}

func TestServiceOverHTTP(t *testing.T) {
	testService(t, func(t *testing.T) grading.Service { return gradingtest.HTTPClient(t, gradingtest.NewService(t)) })
}

func TestServiceOverGRPC(t *testing.T) {
	testService(t, func(t *testing.T) grading.Service { return gradingtest.GRPCClient(t, gradingtest.NewService(t), "") })
}

// TestServiceOverHTTPOnPostgres: the same cases with the shared store under the service, over
// HTTP, where the store's answers meet the one table of statuses.
func TestServiceOverHTTPOnPostgres(t *testing.T) {
	testService(t, func(t *testing.T) grading.Service {
		store, err := pgstore.Open(context.Background(), pgstore.Config{URL: pgtest.URL(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		return gradingtest.HTTPClient(t, grading.NewService(store))
	})
}
