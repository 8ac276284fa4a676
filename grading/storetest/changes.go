package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gradebook/gradebook/grading"
)

func ptr[T any](v T) *T { return &v }

// runChanges is the part of the suite about grade IDs and versions, corrections, removals,
// history, and renaming and removing students.
func runChanges(t *testing.T, open func(t *testing.T) Factory) {
	ctx := context.Background()
	at := time.Date(2026, 11, 30, 7, 8, 9, 123456000, time.UTC)
	correct := func(score float64, by string) grading.GradeWrite {
		return grading.GradeWrite{Change: grading.GradeChange{Score: &score, ChangedBy: by}, By: by, At: at}
	}
	remove := func(by string) grading.GradeWrite { return grading.GradeWrite{Remove: true, By: by, At: at} }
	// setup is a store with Averill holding quiz1 and hw1, and Marge holding test1.
	setup := func(t *testing.T, s grading.Store) (averill, marge grading.Student) {
		t.Helper()
		var err error
		if averill, err = s.CreateStudent(ctx, "Averill", "Simen"); err != nil {
			t.Fatal(err)
		}
		if marge, err = s.CreateStudent(ctx, "Marge", "Garrard"); err != nil {
			t.Fatal(err)
		}
		for _, w := range []struct {
			st *grading.Student
			g  grading.Grade
		}{{&averill, quiz1}, {&averill, hw1}, {&marge, test1}} {
			g, err := s.AddGrade(ctx, w.st.ID, w.g, "")
			if err != nil {
				t.Fatal(err)
			}
			w.st.Grades = append(w.st.Grades, g)
		}
		return averill, marge
	}
	grades := func(t *testing.T, s grading.Store, id int) []grading.Grade {
		t.Helper()
		st, err := s.GetStudent(ctx, id)
		if err != nil {
			t.Fatalf("GetStudent(%d): %v", id, err)
		}
		return st.Grades
	}
	history := func(t *testing.T, s grading.Store, id int) []grading.GradeEvent {
		t.Helper()
		events, err := s.GradeHistory(ctx, id)
		if err != nil {
			t.Fatalf("GradeHistory(%d): %v", id, err)
		}
		return events
	}

	t.Run("every grade gets its own ID and version 1, kept through a reopen", func(t *testing.T) {
		f := open(t)
		s := f.open(t)
		averill, marge := setup(t, s)
		seen := map[int]bool{}
		for _, g := range append(append([]grading.Grade{}, averill.Grades...), marge.Grades...) {
			if g.ID <= 0 || g.Version != 1 || seen[g.ID] {
				t.Errorf("AddGrade answered %+v; want a new positive ID and version 1", g)
			}
			seen[g.ID] = true
		}
		s.Close()
		s = f.open(t)
		if got := grades(t, s, averill.ID); len(got) != 2 || got[0] != averill.Grades[0] || got[1] != averill.Grades[1] {
			t.Errorf("after a reopen: %+v, want %+v", got, averill.Grades)
		}
		if n, err := s.AddGrade(ctx, marge.ID, quiz1, ""); err != nil || seen[n.ID] || n.ID <= 0 {
			t.Errorf("AddGrade after a reopen = %+v, %v; want an ID not used before", n, err)
		}
	})

	t.Run("a correction replaces what it names, counts a version and is in the history", func(t *testing.T) {
		f := open(t)
		s := f.open(t)
		averill, _ := setup(t, s)
		old := averill.Grades[1]
		title := "Week 1 Homework (late)"
		w := grading.GradeWrite{Change: grading.GradeChange{Title: &title, Score: ptr(90.0)}, By: "frizzle", At: at}
		got, err := s.ChangeGrade(ctx, averill.ID, old.ID, w)
		want := old
		want.Title, want.Score, want.Version = title, 90, 2
		if err != nil || got != want {
			t.Fatalf("ChangeGrade = %+v, %v; want %+v", got, err, want)
		}
		s.Close()
		s = f.open(t)
		if g := grades(t, s, averill.ID); len(g) != 2 || g[0] != averill.Grades[0] || g[1] != want {
			t.Errorf("grades after the correction and a reopen: %+v; want %v then %+v", g, averill.Grades[0], want)
		}
		events := history(t, s, averill.ID)
		if len(events) != 1 {
			t.Fatalf("history = %+v, want one entry", events)
		}
		e := events[0]
		if e.StudentID != averill.ID || e.GradeID != old.ID || e.Version != 2 || e.Action != grading.ActionCorrected || e.By != "frizzle" ||
			!e.At.Equal(at) || e.Old != old || e.New == nil || *e.New != want {
			t.Errorf("history entry = %+v (new %+v); want %s by frizzle at %v from %+v to %+v", e, e.New, grading.ActionCorrected, at, old, want)
		}
	})

	t.Run("a removal leaves the grades and the history says so", func(t *testing.T) {
		f := open(t)
		s := f.open(t)
		averill, _ := setup(t, s)
		old := averill.Grades[0]
		if _, err := s.ChangeGrade(ctx, averill.ID, old.ID, remove("frizzle")); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s = f.open(t)
		if g := grades(t, s, averill.ID); len(g) != 1 || g[0] != averill.Grades[1] {
			t.Errorf("grades after a removal: %+v, want only %+v", g, averill.Grades[1])
		}
		events := history(t, s, averill.ID)
		if len(events) != 1 || events[0].Action != grading.ActionRemoved || events[0].Old != old || events[0].New != nil ||
			events[0].By != "frizzle" || !events[0].At.Equal(at) || events[0].Version != 2 {
			t.Errorf("history = %+v; want one removal of %+v by frizzle at %v", events, old, at)
		}
		for _, w := range []grading.GradeWrite{remove("frizzle"), correct(1, "frizzle")} {
			if _, err := s.ChangeGrade(ctx, averill.ID, old.ID, w); !errors.Is(err, grading.ErrGradeNotFound) {
				t.Errorf("changing a removed grade (remove %v) = %v, want ErrGradeNotFound", w.Remove, err)
			}
		}
	})

	t.Run("unknown students and grades, and grades of another student", func(t *testing.T) {
		s := open(t).open(t)
		averill, marge := setup(t, s)
		for _, tc := range []struct {
			student, grade int
			want           error
		}{
			{999999, averill.Grades[0].ID, grading.ErrStudentNotFound},
			{averill.ID, 999999, grading.ErrGradeNotFound},
			{averill.ID, marge.Grades[0].ID, grading.ErrGradeNotFound},
		} {
			for _, w := range []grading.GradeWrite{correct(1, ""), remove(""), {Remove: true, IdempotencyKey: "k-" + fmt.Sprint(tc.student, tc.grade)}} {
				if _, err := s.ChangeGrade(ctx, tc.student, tc.grade, w); !errors.Is(err, tc.want) {
					t.Errorf("ChangeGrade(%d, %d, remove %v) = %v, want %v", tc.student, tc.grade, w.Remove, err, tc.want)
				}
			}
		}
		if _, err := s.GradeHistory(ctx, 999999); !errors.Is(err, grading.ErrStudentNotFound) {
			t.Errorf("GradeHistory(unknown) = %v, want ErrStudentNotFound", err)
		}
		if g := grades(t, s, marge.ID); len(g) != 1 || g[0] != marge.Grades[0] {
			t.Errorf("Marge's grades changed: %+v", g)
		}
		if e := history(t, s, averill.ID); len(e) != 0 {
			t.Errorf("failed changes made history: %+v", e)
		}
	})

	t.Run("a stale version changes nothing", func(t *testing.T) {
		s := open(t).open(t)
		averill, _ := setup(t, s)
		g := averill.Grades[0]
		w := correct(50, "frizzle")
		w.IfVersion = ptr(1)
		if got, err := s.ChangeGrade(ctx, averill.ID, g.ID, w); err != nil || got.Version != 2 {
			t.Fatalf("ChangeGrade at the current version = %+v, %v", got, err)
		}
		for _, stale := range []grading.GradeWrite{w, {Remove: true, IfVersion: ptr(1)}, {Remove: true, IfVersion: ptr(3)}} {
			if _, err := s.ChangeGrade(ctx, averill.ID, g.ID, stale); !errors.Is(err, grading.ErrVersionMismatch) {
				t.Errorf("ChangeGrade at version %d, remove %v = %v, want ErrVersionMismatch", *stale.IfVersion, stale.Remove, err)
			}
		}
		if got := grades(t, s, averill.ID); got[0].Score != 50 || got[0].Version != 2 {
			t.Errorf("after stale changes: %+v, want score 50 at version 2", got[0])
		}
		if e := history(t, s, averill.ID); len(e) != 1 {
			t.Errorf("history = %+v, want only the one correction", e)
		}
	})

	t.Run("two changes at one version from two handles: one wins, the other is stale", func(t *testing.T) {
		s1, s2 := open(t).pair(t)
		averill, _ := setup(t, s1)
		g := averill.Grades[0]
		const callers = 8
		results := race(callers, func(i int) (grading.Grade, error) {
			w := correct(float64(i), fmt.Sprintf("teacher-%d", i))
			w.IfVersion = ptr(1)
			return []*handle{s1, s2}[i%2].ChangeGrade(ctx, averill.ID, g.ID, w)
		})
		won := -1
		for i, r := range results {
			switch {
			case r.err == nil && won < 0:
				won = i
			case r.err == nil:
				t.Errorf("callers %d and %d both changed version 1", won, i)
			case !errors.Is(r.err, grading.ErrVersionMismatch):
				t.Errorf("caller %d: %v, want ErrVersionMismatch", i, r.err)
			}
		}
		if won < 0 {
			t.Fatal("no caller changed the grade")
		}
		got := grades(t, s2, averill.ID)[0]
		if got.Score != float64(won) || got.Version != 2 {
			t.Errorf("grade = %+v, want caller %d's score at version 2", got, won)
		}
		if e := history(t, s2, averill.ID); len(e) != 1 || e[0].By != fmt.Sprintf("teacher-%d", won) {
			t.Errorf("history = %+v, want only caller %d's change", e, won)
		}
	})

	t.Run("an Idempotency-Key applies a correction or a removal once", func(t *testing.T) {
		f := open(t)
		s := f.open(t)
		averill, marge := setup(t, s)
		g := averill.Grades[0]
		w := correct(70, "frizzle")
		w.IdempotencyKey = "fix-1"
		first, err := s.ChangeGrade(ctx, averill.ID, g.ID, w)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		s = f.open(t)
		later := w
		later.At = at.Add(time.Minute) // a repeat comes later; it is still the same request
		for range 2 {
			if again, err := s.ChangeGrade(ctx, averill.ID, g.ID, later); err != nil || again != first {
				t.Errorf("repeat = %+v, %v; want the first answer %+v", again, err, first)
			}
		}
		for _, other := range []grading.GradeWrite{correct(71, "frizzle"), correct(70, "mallory"), remove("frizzle")} {
			other.IdempotencyKey = "fix-1"
			if _, err := s.ChangeGrade(ctx, averill.ID, g.ID, other); !errors.Is(err, grading.ErrIdempotencyConflict) {
				t.Errorf("the key for another change (%+v) = %v, want ErrIdempotencyConflict", other, err)
			}
		}
		if _, err := s.ChangeGrade(ctx, averill.ID, averill.Grades[1].ID, w); !errors.Is(err, grading.ErrIdempotencyConflict) {
			t.Errorf("the key for another grade = %v, want ErrIdempotencyConflict", err)
		}
		rm := remove("frizzle")
		rm.IdempotencyKey = "rm-1"
		for i := range 3 {
			if got, err := s.ChangeGrade(ctx, marge.ID, marge.Grades[0].ID, rm); err != nil || got.ID != marge.Grades[0].ID {
				t.Errorf("removal %d under one key = %+v, %v; want the removed grade", i, got, err)
			}
		}
		if got := grades(t, s, averill.ID); got[0].Version != 2 || got[0].Score != 70 {
			t.Errorf("after repeats: %+v, want score 70 at version 2", got[0])
		}
		if e := history(t, s, averill.ID); len(e) != 1 {
			t.Errorf("Averill's history = %+v, want one entry", e)
		}
		if e := history(t, s, marge.ID); len(e) != 1 || len(grades(t, s, marge.ID)) != 0 {
			t.Errorf("Marge's history = %+v, want one removal", e)
		}
		// Keys of grades and of changes are apart: AddGrade's key does not answer a change.
		if _, err := s.AddGrade(ctx, averill.ID, quiz1, "fix-1"); err != nil {
			t.Errorf("AddGrade under a change's key = %v", err)
		}
	})

	t.Run("a repeated AddGrade answers the grade as entered after it was corrected or removed", func(t *testing.T) {
		s := open(t).open(t)
		averill, _ := setup(t, s)
		entered, err := s.AddGrade(ctx, averill.ID, quiz1, "enter-1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ChangeGrade(ctx, averill.ID, entered.ID, correct(12, "")); err != nil {
			t.Fatal(err)
		}
		if again, err := s.AddGrade(ctx, averill.ID, quiz1, "enter-1"); err != nil || again != entered {
			t.Errorf("repeat after a correction = %+v, %v; want %+v", again, err, entered)
		}
		if _, err := s.ChangeGrade(ctx, averill.ID, entered.ID, remove("")); err != nil {
			t.Fatal(err)
		}
		if again, err := s.AddGrade(ctx, averill.ID, quiz1, "enter-1"); err != nil || again != entered {
			t.Errorf("repeat after a removal = %+v, %v; want %+v", again, err, entered)
		}
		if got := grades(t, s, averill.ID); len(got) != 2 {
			t.Errorf("repeats brought a removed grade back: %+v", got)
		}
	})

	t.Run("a student is renamed and keeps their grades", func(t *testing.T) {
		f := open(t)
		s := f.open(t)
		averill, _ := setup(t, s)
		st, err := s.RenameStudent(ctx, averill.ID, "Averill Jo", "Simen-Lee")
		if err != nil || st.ID != averill.ID || st.FirstName != "Averill Jo" || st.LastName != "Simen-Lee" || len(st.Grades) != 2 {
			t.Fatalf("RenameStudent = %+v, %v", st, err)
		}
		s.Close()
		s = f.open(t)
		if got, err := s.GetStudent(ctx, averill.ID); err != nil || got.FirstName != "Averill Jo" || got.LastName != "Simen-Lee" || len(got.Grades) != 2 {
			t.Errorf("after a rename and a reopen: %+v, %v", got, err)
		}
		if _, err := s.RenameStudent(ctx, 999999, "A", "B"); !errors.Is(err, grading.ErrStudentNotFound) {
			t.Errorf("RenameStudent(unknown) = %v, want ErrStudentNotFound", err)
		}
	})

	t.Run("a student with grades is removed only with force, with all that names them", func(t *testing.T) {
		f := open(t)
		s := f.open(t)
		averill, marge := setup(t, s)
		if _, err := s.AddGrade(ctx, averill.ID, grading.Grade{Title: "Keyed", Type: grading.TypeQuiz, Score: 1}, "averill-key"); err != nil {
			t.Fatal(err)
		}
		w := correct(1, "frizzle")
		w.IdempotencyKey = "averill-change"
		if _, err := s.ChangeGrade(ctx, averill.ID, averill.Grades[0].ID, w); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveStudent(ctx, averill.ID, false); !errors.Is(err, grading.ErrStudentHasGrades) {
			t.Fatalf("RemoveStudent(with grades) = %v, want ErrStudentHasGrades", err)
		}
		if g := grades(t, s, averill.ID); len(g) != 3 {
			t.Fatalf("a refused removal changed the grades: %+v", g)
		}
		if err := s.RemoveStudent(ctx, averill.ID, true); err != nil {
			t.Fatalf("RemoveStudent(force) = %v", err)
		}
		s.Close()
		s = f.open(t)
		if _, err := s.GetStudent(ctx, averill.ID); !errors.Is(err, grading.ErrStudentNotFound) {
			t.Errorf("GetStudent(removed) = %v, want ErrStudentNotFound", err)
		}
		if _, err := s.GradeHistory(ctx, averill.ID); !errors.Is(err, grading.ErrStudentNotFound) {
			t.Errorf("GradeHistory(removed) = %v, want ErrStudentNotFound", err)
		}
		if _, err := s.AddGrade(ctx, averill.ID, grading.Grade{Title: "Keyed", Type: grading.TypeQuiz, Score: 1}, "averill-key"); !errors.Is(err, grading.ErrStudentNotFound) {
			t.Errorf("a repeat for a removed student = %v, want ErrStudentNotFound", err)
		}
		if _, err := s.ChangeGrade(ctx, averill.ID, averill.Grades[0].ID, w); !errors.Is(err, grading.ErrStudentNotFound) {
			t.Errorf("a repeated change for a removed student = %v, want ErrStudentNotFound", err)
		}
		// The keys that named the removed student are free again.
		if _, err := s.AddGrade(ctx, marge.ID, grading.Grade{Title: "Keyed", Type: grading.TypeQuiz, Score: 1}, "averill-key"); err != nil {
			t.Errorf("the removed student's key for another student = %v", err)
		}
		if all, _ := s.ListStudents(ctx); len(all) != 1 || all[0].ID != marge.ID {
			t.Errorf("students after the removal: %+v, want only Marge", all)
		}
		// A student without grades goes without force.
		if _, err := s.ChangeGrade(ctx, marge.ID, marge.Grades[0].ID, remove("")); err != nil {
			t.Fatal(err)
		}
		g := grades(t, s, marge.ID)
		if _, err := s.ChangeGrade(ctx, marge.ID, g[0].ID, remove("")); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveStudent(ctx, marge.ID, false); err != nil {
			t.Errorf("RemoveStudent(no grades left) = %v", err)
		}
		if err := s.RemoveStudent(ctx, marge.ID, true); !errors.Is(err, grading.ErrStudentNotFound) {
			t.Errorf("RemoveStudent(removed) = %v, want ErrStudentNotFound", err)
		}
		if st, err := s.CreateStudent(ctx, "New", "Student"); err != nil || st.ID <= marge.ID {
			t.Errorf("CreateStudent after removals = %+v, %v; want an ID never used", st, err)
		}
	})

	t.Run("a student removed while their grades change: each call succeeds or finds nothing", func(t *testing.T) {
		s1, s2 := open(t).pair(t)
		for round := range 3 {
			st, err := s1.CreateStudent(ctx, "Averill", fmt.Sprint(round))
			if err != nil {
				t.Fatal(err)
			}
			var ids []int
			for range 3 {
				g, err := s1.AddGrade(ctx, st.ID, quiz1, "")
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, g.ID)
			}
			results := race(8, func(i int) (grading.Grade, error) {
				h := []*handle{s1, s2}[i%2]
				switch i % 4 {
				case 0:
					return grading.Grade{}, h.RemoveStudent(ctx, st.ID, true)
				case 1:
					return h.ChangeGrade(ctx, st.ID, ids[i%3], remove("frizzle"))
				default:
					w := correct(float64(i), "frizzle")
					w.IdempotencyKey = fmt.Sprintf("race-%d-%d", round, i)
					return h.ChangeGrade(ctx, st.ID, ids[i%3], w)
				}
			})
			for i, r := range results {
				if r.err != nil && !errors.Is(r.err, grading.ErrStudentNotFound) && !errors.Is(r.err, grading.ErrGradeNotFound) {
					t.Errorf("round %d, caller %d: %v; want success or not found", round, i, r.err)
				}
			}
			if _, err := s2.GetStudent(ctx, st.ID); !errors.Is(err, grading.ErrStudentNotFound) {
				t.Errorf("round %d: the student is still there: %v", round, err)
			}
		}
	})
}
