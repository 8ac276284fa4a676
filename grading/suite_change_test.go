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

func ptr[T any](v T) *T { return &v }

// testChanges asserts corrections, removals, history and student changes, whatever the
// transport and the store.
func testChanges(t *testing.T, newService func(t *testing.T) grading.Service) {
	ctx := requestid.NewContext(context.Background(), "suite")
	// withGrades is a fresh service holding Averill Simen with grades of 80, 90 and 100, and
	// Marge Garrard with none.
	withGrades := func(t *testing.T) (s grading.Service, averill grading.Student, marge grading.Student) {
		t.Helper()
		s = newService(t)
		var err error
		if averill, err = s.AddStudent(ctx, "Averill", "Simen"); err != nil {
			t.Fatal(err)
		}
		if marge, err = s.AddStudent(ctx, "Marge", "Garrard"); err != nil {
			t.Fatal(err)
		}
		for i, score := range []float64{80, 90, 100} {
			g, err := s.AddGrade(ctx, averill.ID, grading.Grade{Title: []string{"Quiz 1", "Quiz 2", "Midterm"}[i], Type: grading.TypeQuiz, Score: score, EnteredBy: "frizzle"}, "")
			if err != nil {
				t.Fatal(err)
			}
			if g.ID <= 0 || g.Version != 1 {
				t.Fatalf("AddGrade = %+v; want an ID and version 1", g)
			}
			averill.Grades = append(averill.Grades, g)
		}
		return s, averill, marge
	}
	average := func(t *testing.T, s grading.Service, id int) float64 {
		t.Helper()
		st, err := s.GetStudent(ctx, id)
		if err != nil || st.Average == nil {
			t.Fatalf("GetStudent(%d) = %+v, %v", id, st, err)
		}
		return *st.Average
	}

	t.Run("GetGrade", func(t *testing.T) {
		s, averill, marge := withGrades(t)
		for _, want := range averill.Grades {
			if got, err := s.GetGrade(ctx, averill.ID, want.ID); err != nil || got != want {
				t.Errorf("GetGrade(%d) = %+v, %v; want %+v", want.ID, got, err, want)
			}
		}
		if _, err := s.GetGrade(ctx, marge.ID, averill.Grades[0].ID); !errors.Is(err, grading.ErrGradeNotFound) || !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("GetGrade(another student's grade) = %v, want ErrGradeNotFound", err)
		}
		if _, err := s.GetGrade(ctx, 999999, averill.Grades[0].ID); !errors.Is(err, grading.ErrStudentNotFound) {
			t.Errorf("GetGrade(unknown student) = %v, want ErrStudentNotFound", err)
		}
	})

	t.Run("correct a grade: the average follows and the history says who, when, from and to", func(t *testing.T) {
		s, averill, _ := withGrades(t)
		before := time.Now().Add(-time.Second)
		old := averill.Grades[0]
		got, err := s.UpdateGrade(ctx, averill.ID, old.ID, grading.GradeChange{Score: ptr(50.0), Title: ptr("  Quiz 1 (retake) "), ChangedBy: "krabappel"}, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		after := time.Now().Add(time.Second)
		want := old
		want.Score, want.Title, want.Version = 50, "Quiz 1 (retake)", 2
		if got != want {
			t.Errorf("UpdateGrade = %+v, want %+v (who entered it and when stay)", got, want)
		}
		if avg := average(t, s, averill.ID); math.Abs(avg-80) > 1e-9 {
			t.Errorf("average = %v, want 80", avg)
		}
		events, err := s.GradeHistory(ctx, averill.ID)
		if err != nil || len(events) != 1 {
			t.Fatalf("GradeHistory = %+v, %v; want one entry", events, err)
		}
		e := events[0]
		if e.Action != grading.ActionCorrected || e.By != "krabappel" || e.At.Before(before) || e.At.After(after) ||
			e.GradeID != old.ID || e.Version != 2 || e.Old != old || e.New == nil || *e.New != want {
			t.Errorf("history entry = %+v (new %+v); want a correction by krabappel from %+v to %+v", e, e.New, old, want)
		}
	})

	t.Run("remove a grade: it leaves the average and the history keeps it", func(t *testing.T) {
		s, averill, _ := withGrades(t)
		removed := averill.Grades[2]
		if err := s.RemoveGrade(ctx, averill.ID, removed.ID, "krabappel", nil, ""); err != nil {
			t.Fatal(err)
		}
		if avg := average(t, s, averill.ID); avg != 85 {
			t.Errorf("average after removing the 100 = %v, want 85", avg)
		}
		if _, err := s.GetGrade(ctx, averill.ID, removed.ID); !errors.Is(err, grading.ErrGradeNotFound) {
			t.Errorf("GetGrade(removed) = %v, want ErrGradeNotFound", err)
		}
		if err := s.RemoveGrade(ctx, averill.ID, removed.ID, "krabappel", nil, ""); !errors.Is(err, grading.ErrGradeNotFound) {
			t.Errorf("removing it again = %v, want ErrGradeNotFound", err)
		}
		events, err := s.GradeHistory(ctx, averill.ID)
		if err != nil || len(events) != 1 || events[0].Action != grading.ActionRemoved || events[0].Old != removed || events[0].New != nil || events[0].By != "krabappel" || events[0].At.IsZero() {
			t.Errorf("GradeHistory = %+v, %v; want the removal of %+v by krabappel", events, err, removed)
		}
	})

	t.Run("two corrections at the same version: the second is stale", func(t *testing.T) {
		s, averill, _ := withGrades(t)
		g := averill.Grades[1]
		first, err := s.UpdateGrade(ctx, averill.ID, g.ID, grading.GradeChange{Score: ptr(91.0), ChangedBy: "krabappel"}, ptr(g.Version), "")
		if err != nil || first.Version != 2 {
			t.Fatalf("first correction = %+v, %v", first, err)
		}
		_, err = s.UpdateGrade(ctx, averill.ID, g.ID, grading.GradeChange{Score: ptr(92.0), ChangedBy: "hoover"}, ptr(g.Version), "")
		if !errors.Is(err, grading.ErrVersionMismatch) {
			t.Errorf("second correction at version %d = %v, want ErrVersionMismatch", g.Version, err)
		}
		if err := s.RemoveGrade(ctx, averill.ID, g.ID, "hoover", ptr(g.Version), ""); !errors.Is(err, grading.ErrVersionMismatch) {
			t.Errorf("removal at version %d = %v, want ErrVersionMismatch", g.Version, err)
		}
		if got, _ := s.GetGrade(ctx, averill.ID, g.ID); got != first {
			t.Errorf("grade = %+v, want the first correction %+v", got, first)
		}
		// Without a version the change applies as is.
		if got, err := s.UpdateGrade(ctx, averill.ID, g.ID, grading.GradeChange{Score: ptr(93.0)}, nil, ""); err != nil || got.Version != 3 {
			t.Errorf("correction without a version = %+v, %v", got, err)
		}
		if err := s.RemoveGrade(ctx, averill.ID, g.ID, "", ptr(3), ""); err != nil {
			t.Errorf("removal at the current version = %v", err)
		}
	})

	t.Run("a repeated correction or removal under one Idempotency-Key is applied once", func(t *testing.T) {
		s, averill, _ := withGrades(t)
		g := averill.Grades[0]
		change := grading.GradeChange{Score: ptr(60.0), ChangedBy: "krabappel"}
		first, err := s.UpdateGrade(ctx, averill.ID, g.ID, change, ptr(1), "fix-key")
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.UpdateGrade(ctx, averill.ID, g.ID, change, ptr(1), "fix-key")
		if err != nil || again != first {
			t.Errorf("repeat = %+v, %v; want the first answer %+v", again, err, first)
		}
		if _, err := s.UpdateGrade(ctx, averill.ID, g.ID, grading.GradeChange{Score: ptr(61.0), ChangedBy: "krabappel"}, ptr(1), "fix-key"); !errors.Is(err, grading.ErrIdempotencyConflict) {
			t.Errorf("the key for another correction = %v, want ErrIdempotencyConflict", err)
		}
		rm := averill.Grades[1]
		for i := range 3 {
			if err := s.RemoveGrade(ctx, averill.ID, rm.ID, "krabappel", nil, "rm-key"); err != nil {
				t.Errorf("removal %d under one key = %v", i, err)
			}
		}
		st, _ := s.GetStudent(ctx, averill.ID)
		if len(st.Grades) != 2 || st.Grades[0].Version != 2 || st.Grades[0].Score != 60 {
			t.Errorf("after repeats: %+v; want the corrected grade at version 2 and one removed", st.Grades)
		}
		if events, _ := s.GradeHistory(ctx, averill.ID); len(events) != 2 {
			t.Errorf("history after repeats = %+v, want one correction and one removal", events)
		}
	})

	t.Run("invalid corrections", func(t *testing.T) {
		s, averill, _ := withGrades(t)
		g := averill.Grades[0]
		for _, tc := range []struct {
			change grading.GradeChange
			field  string
		}{
			{grading.GradeChange{}, "change"},
			{grading.GradeChange{Score: ptr(101.0)}, "score"},
			{grading.GradeChange{Score: ptr(math.NaN())}, "score"},
			{grading.GradeChange{Title: ptr("  ")}, "title"},
			{grading.GradeChange{Title: ptr("a\x00b")}, "title"},
			{grading.GradeChange{Type: ptr("Exam")}, "type"},
			{grading.GradeChange{Score: ptr(1.0), ChangedBy: strings.Repeat("x", grading.MaxEnteredByLen+1)}, "changedBy"},
		} {
			_, err := s.UpdateGrade(ctx, averill.ID, g.ID, tc.change, nil, "")
			var fe errs.FieldErrors
			if !errors.As(err, &fe) || fe[tc.field] == "" {
				t.Errorf("UpdateGrade(%+v) = %v, want a field error on %s", tc.change, err, tc.field)
			}
		}
		if got, _ := s.GetGrade(ctx, averill.ID, g.ID); got != g {
			t.Errorf("invalid corrections changed the grade: %+v", got)
		}
		for _, id := range []int{0, -1, 1 << 40} {
			if _, err := s.UpdateGrade(ctx, averill.ID, id, grading.GradeChange{Score: ptr(1.0)}, nil, ""); !errors.Is(err, grading.ErrGradeNotFound) {
				t.Errorf("UpdateGrade(grade %d) = %v, want ErrGradeNotFound", id, err)
			}
			if err := s.RemoveGrade(ctx, id, g.ID, "", nil, ""); !errors.Is(err, grading.ErrStudentNotFound) {
				t.Errorf("RemoveGrade(student %d) = %v, want ErrStudentNotFound", id, err)
			}
		}
	})

	t.Run("rename a student", func(t *testing.T) {
		s, averill, _ := withGrades(t)
		st, err := s.RenameStudent(ctx, averill.ID, " Avery ", "Simen")
		if err != nil || st.FirstName != "Avery" || st.LastName != "Simen" || len(st.Grades) != 3 || st.Average == nil {
			t.Fatalf("RenameStudent = %+v, %v; want Avery Simen with the three grades and their average", st, err)
		}
		if got, _ := s.GetStudent(ctx, averill.ID); got.FirstName != "Avery" {
			t.Errorf("after the rename: %+v", got)
		}
		_, err = s.RenameStudent(ctx, averill.ID, "", "Lee\x1b")
		var fe errs.FieldErrors
		if !errors.As(err, &fe) || fe["firstName"] == "" || fe["lastName"] == "" {
			t.Errorf("RenameStudent(invalid) = %v, want field errors on both names", err)
		}
		if _, err := s.RenameStudent(ctx, 999999, "A", "B"); !errors.Is(err, grading.ErrStudentNotFound) {
			t.Errorf("RenameStudent(unknown) = %v, want ErrStudentNotFound", err)
		}
	})

	t.Run("remove a student: a conflict while they have grades, unless forced", func(t *testing.T) {
		s, averill, marge := withGrades(t)
		err := s.RemoveStudent(ctx, averill.ID, false)
		if !errors.Is(err, grading.ErrStudentHasGrades) || !errors.Is(err, errs.ErrConflict) {
			t.Fatalf("RemoveStudent(with grades) = %v, want ErrStudentHasGrades", err)
		}
		if err := s.RemoveStudent(ctx, marge.ID, false); err != nil {
			t.Errorf("RemoveStudent(no grades) = %v", err)
		}
		if err := s.RemoveStudent(ctx, averill.ID, true); err != nil {
			t.Errorf("RemoveStudent(force) = %v", err)
		}
		for _, id := range []int{averill.ID, marge.ID} {
			if _, err := s.GetStudent(ctx, id); !errors.Is(err, grading.ErrStudentNotFound) {
				t.Errorf("GetStudent(removed %d) = %v, want ErrStudentNotFound", id, err)
			}
			if err := s.RemoveStudent(ctx, id, true); !errors.Is(err, grading.ErrStudentNotFound) {
				t.Errorf("RemoveStudent(removed %d) = %v, want ErrStudentNotFound", id, err)
			}
		}
		if all, err := s.ListStudents(ctx); err != nil || len(all) != 0 {
			t.Errorf("ListStudents = %+v, %v; want none", all, err)
		}
	})
}

// newPostgresService is the service over a fresh PostgreSQL database.
func newPostgresService(t *testing.T) grading.Service {
	store, err := pgstore.Open(context.Background(), pgstore.Config{URL: pgtest.URL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return grading.NewService(store)
}

// TestServiceOnPostgres and TestServiceOverGRPCOnPostgres: the suite with the shared store under
// the service, called directly and over gRPC, as TestServiceOverHTTPOnPostgres does over HTTP.
func TestServiceOnPostgres(t *testing.T) {
	testService(t, newPostgresService)
}

func TestServiceOverGRPCOnPostgres(t *testing.T) {
	testService(t, func(t *testing.T) grading.Service { return gradingtest.GRPCClient(t, newPostgresService(t), "") })
}
