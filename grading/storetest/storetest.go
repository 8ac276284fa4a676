package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gradebook/gradebook/grading"
)

// Factory opens handles on one fresh, empty set of data: a bbolt file, a database.
type Factory struct {
	// Open opens a new handle on the data. The suite closes every handle it opens, and opens
	// again after a close to see what survived.
	Open func(t *testing.T) grading.Store
	// Exclusive says that only one handle may be open on the data at a time, as with a bbolt file,
	// which the process holding it locks. Where the suite would open a second handle, it then uses
	// the first one, which holds it to the same contract within one process.
	Exclusive bool
	// IDPrefix begins every ID this kind of store makes: "bolt-", "pg-".
	IDPrefix string
}

// handle is a store the suite opened: closed when the test ends unless the suite closed it first.
type handle struct {
	grading.Store
	once sync.Once
	err  error
}

func (h *handle) Close() error {
	h.once.Do(func() { h.err = h.Store.Close() })
	return h.err
}

func (h *handle) Ping(ctx context.Context) error {
	p, ok := h.Store.(grading.Pinger)
	if !ok {
		return errors.New("the store is no grading.Pinger")
	}
	return p.Ping(ctx)
}

func (f Factory) open(t *testing.T) *handle {
	t.Helper()
	h := &handle{Store: f.Open(t)}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

// pair opens two handles on the data, or one twice when the store is Exclusive.
func (f Factory) pair(t *testing.T) (a, b *handle) {
	t.Helper()
	a = f.open(t)
	if f.Exclusive {
		return a, a
	}
	return a, f.open(t)
}

var (
	quiz1 = grading.Grade{Title: "Quiz 1", Type: grading.TypeQuiz, Score: 85}
	hw1   = grading.Grade{Title: "Week 1 Homework", Type: grading.TypeHomework, Score: 94.5}
	test1 = grading.Grade{Title: "Midterm", Type: grading.TypeTest, Score: 0}
)

// Run runs the conformance suite. open is called once per subtest, and each call must give a
// Factory over its own fresh, empty data, so that no subtest sees what another did.
func Run(t *testing.T, open func(t *testing.T) Factory) {
	ctx := context.Background()

	// mustStudent creates a student or fails the test.
	mustStudent := func(t *testing.T, s grading.Store, first, last string) grading.Student {
		t.Helper()
		st, err := s.CreateStudent(ctx, first, last)
		if err != nil {
			t.Fatalf("CreateStudent(%s %s): %v", first, last, err)
		}
		return st
	}
	mustGrades := func(t *testing.T, s grading.Store, id int) []grading.Grade {
		t.Helper()
		st, err := s.GetStudent(ctx, id)
		if err != nil {
			t.Fatalf("GetStudent(%d): %v", id, err)
		}
		return st.Grades
	}

	runChanges(t, open)

	t.Run("an empty store lists no students", func(t *testing.T) {
		s := open(t).open(t)
		all, err := s.ListStudents(ctx)
		if err != nil || all == nil || len(all) != 0 {
			t.Fatalf("ListStudents() = %#v, %v; want an empty, non-nil list", all, err)
		}
		if err := s.Ping(ctx); err != nil {
			t.Errorf("Ping() = %v on an open store", err)
		}
	})

	t.Run("a new student has an ID, no grades and no average", func(t *testing.T) {
		s := open(t).open(t)
		st := mustStudent(t, s, "Averill", "Simen")
		if st.ID <= 0 || st.FirstName != "Averill" || st.LastName != "Simen" || st.Grades == nil || len(st.Grades) != 0 || st.Average != nil {
			t.Errorf("CreateStudent = %+v; want a positive ID, the names, [] grades and no average", st)
		}
		got, err := s.GetStudent(ctx, st.ID)
		if err != nil || got.FirstName != "Averill" || got.Grades == nil || len(got.Grades) != 0 {
			t.Errorf("GetStudent(%d) = %+v, %v; want Averill with [] grades", st.ID, got, err)
		}
	})

	// The service's input policy (valid UTF-8, no control characters, at most
	// grading.MaxNameLen characters) decides what text reaches a store; every store must keep all
	// of that text exactly, so that the policy, not the store, says what is refused.
	t.Run("text the input policy allows is kept byte for byte", func(t *testing.T) {
		s := open(t).open(t)
		texts := []string{
			"Zoë Ångström", "O'Brien-Łukasz", "张伟", "🙂 emoji", "\uFFFD as sent", "zero\u200bwidth", "RTL \u202e mark",
			strings.Repeat("𝄞", grading.MaxNameLen), `<script>"&'</script>`,
		}
		for _, text := range texts {
			st := mustStudent(t, s, text, text)
			g := grading.Grade{Title: text, Type: grading.TypeQuiz, Score: 0}
			if _, err := s.AddGrade(ctx, st.ID, g, ""); err != nil {
				t.Fatalf("AddGrade(title %q): %v", text, err)
			}
			got, err := s.GetStudent(ctx, st.ID)
			if err != nil || got.FirstName != text || got.LastName != text || len(got.Grades) != 1 || got.Grades[0].Title != text {
				t.Errorf("stored %q; read back %+v, %v", text, got, err)
			}
		}
	})

	t.Run("students in ID order, grades in insertion order, averages left to the service", func(t *testing.T) {
		s := open(t).open(t)
		a := mustStudent(t, s, "Averill", "Simen")
		b := mustStudent(t, s, "Marge", "Garrard")
		c := mustStudent(t, s, "Sydnie", "Barber")
		if !(a.ID < b.ID && b.ID < c.ID) {
			t.Fatalf("IDs %d, %d, %d; want them increasing", a.ID, b.ID, c.ID)
		}
		// Interleaved, so that an order by anything but insertion within a student shows.
		for _, w := range []struct {
			id int
			g  grading.Grade
		}{{c.ID, test1}, {a.ID, quiz1}, {c.ID, quiz1}, {a.ID, hw1}, {c.ID, hw1}, {a.ID, test1}} {
			if got, err := s.AddGrade(ctx, w.id, w.g, ""); err != nil || content(got) != w.g {
				t.Fatalf("AddGrade(%d, %v) = %v, %v", w.id, w.g, got, err)
			}
		}
		all, err := s.ListStudents(ctx)
		if err != nil || len(all) != 3 || all[0].ID != a.ID || all[1].ID != b.ID || all[2].ID != c.ID {
			t.Fatalf("ListStudents() = %+v, %v; want Averill, Marge, Sydnie in ID order", all, err)
		}
		want := map[int][]grading.Grade{a.ID: {quiz1, hw1, test1}, b.ID: {}, c.ID: {test1, quiz1, hw1}}
		for _, st := range all {
			if !slices.Equal(contents(st.Grades), want[st.ID]) || st.Grades == nil {
				t.Errorf("ListStudents: %s has %v, want %v", st.FirstName, st.Grades, want[st.ID])
			}
			if st.Average != nil {
				t.Errorf("ListStudents: %s has an average from the store; the service computes it", st.FirstName)
			}
			if got := mustGrades(t, s, st.ID); !slices.Equal(contents(got), want[st.ID]) {
				t.Errorf("GetStudent(%d) grades = %v, want %v", st.ID, got, want[st.ID])
			}
		}
	})

	t.Run("unknown students are ErrStudentNotFound", func(t *testing.T) {
		s := open(t).open(t)
		a := mustStudent(t, s, "Averill", "Simen")
		for _, id := range []int{a.ID + 1, 999999, 0, -1} {
			if _, err := s.GetStudent(ctx, id); !errors.Is(err, grading.ErrStudentNotFound) {
				t.Errorf("GetStudent(%d) = %v, want ErrStudentNotFound", id, err)
			}
			for _, key := range []string{"", "key-" + fmt.Sprint(id)} {
				if _, err := s.AddGrade(ctx, id, quiz1, key); !errors.Is(err, grading.ErrStudentNotFound) {
					t.Errorf("AddGrade(%d, key %q) = %v, want ErrStudentNotFound", id, key, err)
				}
			}
		}
		if got := mustGrades(t, s, a.ID); len(got) != 0 {
			t.Errorf("grades to unknown students landed on %d: %v", a.ID, got)
		}
	})

	t.Run("an Idempotency-Key names one student and grade", func(t *testing.T) {
		s := open(t).open(t)
		a := mustStudent(t, s, "Averill", "Simen")
		b := mustStudent(t, s, "Marge", "Garrard")
		for i := range 3 {
			if got, err := s.AddGrade(ctx, a.ID, quiz1, "same"); err != nil || content(got) != quiz1 {
				t.Fatalf("attempt %d: %v, %v; want %v", i, got, err, quiz1)
			}
		}
		if got := mustGrades(t, s, a.ID); len(got) != 1 {
			t.Errorf("three writes under one key stored %d grades, want 1", len(got))
		}
		for _, tc := range []struct {
			name string
			id   int
			g    grading.Grade
		}{
			{"a different score", a.ID, grading.Grade{Title: quiz1.Title, Type: quiz1.Type, Score: quiz1.Score + 1}},
			{"a different title", a.ID, grading.Grade{Title: "Quiz 2", Type: quiz1.Type, Score: quiz1.Score}},
			{"a different type", a.ID, grading.Grade{Title: quiz1.Title, Type: grading.TypeTest, Score: quiz1.Score}},
			{"a different student", b.ID, quiz1},
			{"an unknown student", 999999, quiz1},
		} {
			if _, err := s.AddGrade(ctx, tc.id, tc.g, "same"); !errors.Is(err, grading.ErrIdempotencyConflict) {
				t.Errorf("the same key with %s: %v, want ErrIdempotencyConflict", tc.name, err)
			}
		}
		if got := mustGrades(t, s, a.ID); len(got) != 1 {
			t.Errorf("conflicting writes changed the grades: %v", got)
		}
		if got := mustGrades(t, s, b.ID); len(got) != 0 {
			t.Errorf("a conflicting write gave Marge grades: %v", got)
		}
		// Without a key every write is a new grade.
		for range 2 {
			if _, err := s.AddGrade(ctx, b.ID, quiz1, ""); err != nil {
				t.Fatal(err)
			}
		}
		if got := mustGrades(t, s, b.ID); len(got) != 2 {
			t.Errorf("two writes without a key stored %d grades, want 2", len(got))
		}
		// A key first used on an unknown student is not remembered.
		if _, err := s.AddGrade(ctx, 999999, quiz1, "fresh"); !errors.Is(err, grading.ErrStudentNotFound) {
			t.Errorf("unknown student: %v", err)
		}
		if _, err := s.AddGrade(ctx, a.ID, hw1, "fresh"); err != nil {
			t.Errorf("a key first used on an unknown student was kept: %v", err)
		}
		// Keys are any bytes a client sends, of any length the service accepts.
		for _, key := range []string{"ünï-cødé", "\xff\xfe not UTF-8", strings.Repeat("k", 255)} {
			if got, err := s.AddGrade(ctx, a.ID, test1, key); err != nil || content(got) != test1 {
				t.Errorf("AddGrade with key %q = %v, %v", key, got, err)
			}
		}
	})

	t.Run("the same key racing on two handles stores one grade and answers it to all", func(t *testing.T) {
		s1, s2 := open(t).pair(t)
		st := mustStudent(t, s1, "Averill", "Simen")
		const rounds, callers = 5, 8
		for round := range rounds {
			key := fmt.Sprintf("race-%d", round)
			g := grading.Grade{Title: fmt.Sprintf("Quiz %d", round), Type: grading.TypeQuiz, Score: float64(50 + round)}
			results := race(callers, func(i int) (grading.Grade, error) {
				return []*handle{s1, s2}[i%2].AddGrade(ctx, st.ID, g, key)
			})
			for i, r := range results {
				if r.err != nil || content(r.g) != g {
					t.Errorf("round %d, caller %d: %v, %v; want %v", round, i, r.g, r.err, g)
				}
			}
		}
		got := mustGrades(t, s2, st.ID)
		if len(got) != rounds {
			t.Fatalf("%d rounds of %d racing writes stored %d grades (%v), want one per round", rounds, callers, len(got), got)
		}
		for round, g := range got {
			if g.Title != fmt.Sprintf("Quiz %d", round) {
				t.Errorf("grade %d = %v, want Quiz %d", round, g, round)
			}
		}
	})

	t.Run("the same key racing for two students goes to one of them", func(t *testing.T) {
		s1, s2 := open(t).pair(t)
		a := mustStudent(t, s1, "Averill", "Simen")
		b := mustStudent(t, s1, "Marge", "Garrard")
		results := race(8, func(i int) (grading.Grade, error) {
			return []*handle{s1, s2}[i%2].AddGrade(ctx, []int{a.ID, b.ID}[(i/2)%2], quiz1, "contested")
		})
		ga, gb := mustGrades(t, s1, a.ID), mustGrades(t, s1, b.ID)
		if len(ga)+len(gb) != 1 {
			t.Fatalf("one key stored %d grades for Averill and %d for Marge, want one in all", len(ga), len(gb))
		}
		winner := a.ID
		if len(gb) == 1 {
			winner = b.ID
		}
		for i, r := range results {
			id := []int{a.ID, b.ID}[(i/2)%2]
			switch {
			case id == winner && (r.err != nil || content(r.g) != quiz1):
				t.Errorf("caller %d for the winning student: %v, %v; want %v", i, r.g, r.err, quiz1)
			case id != winner && !errors.Is(r.err, grading.ErrIdempotencyConflict):
				t.Errorf("caller %d for the other student: %v, %v; want ErrIdempotencyConflict", i, r.g, r.err)
			}
		}
	})

	t.Run("8 writers on one student from two handles: every grade once", func(t *testing.T) {
		s1, s2 := open(t).pair(t)
		st := mustStudent(t, s1, "Averill", "Simen")
		const writers, each = 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		start := make(chan struct{})
		for w := range writers {
			wg.Go(func() {
				<-start
				s := []*handle{s1, s2}[w%2]
				for i := range each {
					g := grading.Grade{Title: fmt.Sprintf("w%d-%d", w, i), Type: grading.TypeHomework, Score: float64(i)}
					// Half the writers use keys, so that both paths run side by side.
					key := ""
					if w%4 < 2 {
						key = g.Title
					}
					if got, err := s.AddGrade(ctx, st.ID, g, key); err != nil || content(got) != g {
						errs <- fmt.Errorf("writer %d, grade %d: %v, %v", w, i, got, err)
					}
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for _, s := range []*handle{s1, s2} {
			got := mustGrades(t, s, st.ID)
			if len(got) != writers*each {
				t.Errorf("%d grades stored, want %d", len(got), writers*each)
			}
			seen := map[string]int{}
			next := make([]int, writers) // each writer's grades must appear in the order it wrote them
			for _, g := range got {
				seen[g.Title]++
				var w, i int
				if _, err := fmt.Sscanf(g.Title, "w%d-%d", &w, &i); err != nil || w >= writers {
					t.Fatalf("a grade no writer wrote: %v", g)
				}
				if i != next[w] {
					t.Errorf("writer %d's grade %d appears where its grade %d should", w, i, next[w])
				}
				next[w] = i + 1
			}
			for title, n := range seen {
				if n != 1 {
					t.Errorf("%s stored %d times", title, n)
				}
			}
		}
	})

	t.Run("everything survives a close and a reopen", func(t *testing.T) {
		f := open(t)
		s := f.open(t)
		a := mustStudent(t, s, "Averill", "Simen")
		b := mustStudent(t, s, "Marge", "Garrard")
		if _, err := s.AddGrade(ctx, a.ID, quiz1, "key-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddGrade(ctx, a.ID, hw1, ""); err != nil {
			t.Fatal(err)
		}
		id := s.ID()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Ping(ctx); err == nil {
			t.Error("Ping() on a closed store = nil, want an error (so that /health turns critical)")
		}

		s = f.open(t)
		if err := s.Ping(ctx); err != nil {
			t.Errorf("Ping() after a reopen = %v", err)
		}
		if s.ID() != id {
			t.Errorf("ID() = %q after a reopen, %q before", s.ID(), id)
		}
		got, err := s.GetStudent(ctx, a.ID)
		if err != nil || got.FirstName != "Averill" || !slices.Equal(contents(got.Grades), []grading.Grade{quiz1, hw1}) {
			t.Fatalf("after a reopen: %+v, %v; want Averill with %v, %v", got, err, quiz1, hw1)
		}
		// The key survived with its grade: a repeat adds nothing, a misuse still conflicts.
		if g, err := s.AddGrade(ctx, a.ID, quiz1, "key-1"); err != nil || content(g) != quiz1 {
			t.Errorf("repeat after a reopen = %v, %v; want %v", g, err, quiz1)
		}
		if _, err := s.AddGrade(ctx, b.ID, quiz1, "key-1"); !errors.Is(err, grading.ErrIdempotencyConflict) {
			t.Errorf("the key for another student after a reopen: %v, want ErrIdempotencyConflict", err)
		}
		if got := mustGrades(t, s, a.ID); len(got) != 2 {
			t.Errorf("repeat after a reopen changed the grades: %v", got)
		}
		// IDs keep increasing after a reopen.
		c := mustStudent(t, s, "Sydnie", "Barber")
		if c.ID <= b.ID {
			t.Errorf("ID after a reopen = %d, want more than %d", c.ID, b.ID)
		}
		all, _ := s.ListStudents(ctx)
		if len(all) != 3 || all[0].ID != a.ID || all[1].ID != b.ID || all[2].ID != c.ID {
			t.Errorf("ListStudents() = %+v, want Averill, Marge and Sydnie in that order", all)
		}
	})

	t.Run("who entered a grade and when are kept, and a repeat answers the first entry", func(t *testing.T) {
		f := open(t)
		s := f.open(t)
		a := mustStudent(t, s, "Averill", "Simen")
		at := time.Date(2026, 11, 30, 4, 5, 6, 123456000, time.UTC)
		entered := grading.Grade{Title: "Quiz 9", Type: grading.TypeQuiz, Score: 77, EnteredBy: "frizzle", EnteredAt: at}
		if _, err := s.AddGrade(ctx, a.ID, entered, "key-entered"); err != nil {
			t.Fatal(err)
		}
		// A grade from before grades had an author keeps having none.
		if _, err := s.AddGrade(ctx, a.ID, hw1, ""); err != nil {
			t.Fatal(err)
		}
		// The repeat comes later: it is the same entry, answered as first stored.
		later := entered
		later.EnteredAt = at.Add(time.Minute)
		if g, err := s.AddGrade(ctx, a.ID, later, "key-entered"); err != nil || !g.EnteredAt.Equal(at) || g.EnteredBy != "frizzle" {
			t.Errorf("repeat = %+v, %v; want the first entry, at %v", g, err, at)
		}
		other := entered
		other.EnteredBy = "mallory"
		if _, err := s.AddGrade(ctx, a.ID, other, "key-entered"); !errors.Is(err, grading.ErrIdempotencyConflict) {
			t.Errorf("the key in another teacher's name: %v, want ErrIdempotencyConflict", err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = f.open(t)
		got := mustGrades(t, s, a.ID)
		if len(got) != 2 || got[0].EnteredBy != "frizzle" || !got[0].EnteredAt.Equal(at) || got[1].EnteredBy != "" || !got[1].EnteredAt.IsZero() {
			t.Errorf("after a reopen: %+v; want Quiz 9 entered by frizzle at %v, then %v entered by no one known", got, at, hw1)
		}
	})

	t.Run("the ID is the data's: the same on both handles and after a reopen, another for other data", func(t *testing.T) {
		f := open(t)
		s1, s2 := f.pair(t)
		id := s1.ID()
		if !strings.HasPrefix(id, f.IDPrefix) || len(id) < len(f.IDPrefix)+8 {
			t.Fatalf("ID() = %q, want %s and a random part", id, f.IDPrefix)
		}
		if s2.ID() != id {
			t.Errorf("two handles on the same data: IDs %q and %q", id, s2.ID())
		}
		s1.Close()
		s2.Close()
		if again := f.open(t).ID(); again != id {
			t.Errorf("ID() = %q after a reopen, %q before", again, id)
		}
		if other := open(t).open(t).ID(); other == id {
			t.Errorf("two fresh stores share the ID %q", id)
		}
	})

	t.Run("SeedIfEmpty seeds an empty store once, in order, and keeps it", func(t *testing.T) {
		f := open(t)
		s := f.open(t)
		n, err := grading.SeedDemo(ctx, s)
		if err != nil || n != 5 {
			t.Fatalf("SeedDemo(empty) = %d, %v; want 5 students", n, err)
		}
		want := grading.DemoStudents()
		check := func(t *testing.T, s grading.Store, when string) []grading.Student {
			t.Helper()
			all, err := s.ListStudents(ctx)
			if err != nil || len(all) != len(want) {
				t.Fatalf("%s: %d students, %v; want %d", when, len(all), err, len(want))
			}
			for i, st := range all {
				w := want[i]
				if st.FirstName != w.FirstName || st.LastName != w.LastName || !slices.Equal(contents(st.Grades), w.Grades) {
					t.Errorf("%s: student %d = %+v, want %s %s with %v", when, i, st, w.FirstName, w.LastName, w.Grades)
				}
				if i > 0 && st.ID <= all[i-1].ID {
					t.Errorf("%s: IDs %d then %d, want them increasing in the seed's order", when, all[i-1].ID, st.ID)
				}
			}
			return all
		}
		check(t, s, "after seeding")
		if n, err := grading.SeedDemo(ctx, s); n != 0 || err != nil {
			t.Errorf("SeedDemo(seeded) = %d, %v; want 0, nil", n, err)
		}
		check(t, s, "after a second seed")
		s.Close()
		s = f.open(t)
		if n, err := grading.SeedDemo(ctx, s); n != 0 || err != nil {
			t.Errorf("SeedDemo(seeded, reopened) = %d, %v; want 0, nil", n, err)
		}
		all := check(t, s, "after a reopen and a third seed")
		if st := mustStudent(t, s, "New", "Student"); st.ID <= all[len(all)-1].ID {
			t.Errorf("the first student after the seed has ID %d, want more than %d", st.ID, all[len(all)-1].ID)
		}
	})

	t.Run("SeedIfEmpty leaves a store with students alone", func(t *testing.T) {
		s := open(t).open(t)
		mustStudent(t, s, "Only", "Student")
		if n, err := grading.SeedDemo(ctx, s); n != 0 || err != nil {
			t.Errorf("SeedDemo(a user's store) = %d, %v; want 0, nil", n, err)
		}
		if all, _ := s.ListStudents(ctx); len(all) != 1 || all[0].FirstName != "Only" {
			t.Errorf("store after SeedDemo = %+v, want only the user's student", all)
		}
	})

	// A write that fails partway through a seed must leave nothing behind, so that the next
	// start seeds in full.
	t.Run("SeedIfEmpty is all or nothing", func(t *testing.T) {
		f := open(t)
		s := f.open(t)
		// The third student's second grade cannot be stored (NaN is no score), so the seed fails
		// after two students and their grades were written in the same transaction.
		poisoned := grading.DemoStudents()
		poisoned[2].Grades[1].Score = math.NaN()
		n, err := s.SeedIfEmpty(ctx, poisoned)
		if err == nil || n != 0 {
			t.Fatalf("SeedIfEmpty with a failing third write = %d, %v; want 0 and an error", n, err)
		}
		t.Logf("the failed seed: %v", err)
		if all, err := s.ListStudents(ctx); err != nil || len(all) != 0 {
			t.Fatalf("after a failed seed the store holds %d students (%+v), %v; want none", len(all), all, err)
		}
		s.Close()
		s = f.open(t)
		if all, _ := s.ListStudents(ctx); len(all) != 0 {
			t.Fatalf("after a failed seed and a reopen the store holds %d students, want none", len(all))
		}
		if n, err := grading.SeedDemo(ctx, s); n != 5 || err != nil {
			t.Fatalf("SeedDemo after a failed seed = %d, %v; want 5", n, err)
		}
		if all, _ := s.ListStudents(ctx); len(all) != 5 || len(all[2].Grades) != 3 {
			t.Errorf("after the retry: %+v; want the five demo students with their grades", all)
		}
	})

	t.Run("SeedIfEmpty racing on two handles seeds exactly once", func(t *testing.T) {
		s1, s2 := open(t).pair(t)
		results := race(8, func(i int) (grading.Grade, error) {
			n, err := []*handle{s1, s2}[i%2].SeedIfEmpty(ctx, grading.DemoStudents())
			return grading.Grade{Score: float64(n)}, err
		})
		seeded := 0
		for i, r := range results {
			if r.err != nil {
				t.Errorf("seed %d: %v", i, r.err)
			}
			if r.g.Score != 0 {
				seeded++
				if r.g.Score != 5 {
					t.Errorf("seed %d added %v students, want 5 or 0", i, r.g.Score)
				}
			}
		}
		if seeded != 1 {
			t.Errorf("%d of 8 racing seeds added students, want exactly 1", seeded)
		}
		if all, _ := s2.ListStudents(ctx); len(all) != 5 {
			t.Errorf("after racing seeds the store holds %d students, want 5", len(all))
		}
	})
}

type result struct {
	g   grading.Grade
	err error
}

// race runs call n times at once, released together, and returns each call's result in order.
func race(n int, call func(i int) (grading.Grade, error)) []result {
	out := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			g, err := call(i)
			out[i] = result{g, err}
		})
	}
	close(start)
	wg.Wait()
	return out
}

// content is g without the ID and version its store gave it: what was asked to be stored.
func content(g grading.Grade) grading.Grade {
	g.ID, g.Version = 0, 0
	return g
}

// contents is content of each of grades.
func contents(grades []grading.Grade) []grading.Grade {
	if grades == nil {
		return nil
	}
	out := make([]grading.Grade, len(grades))
	for i, g := range grades {
		out[i] = content(g)
	}
	return out
}
