package boltstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/boltstore"
	"github.com/gradebook/gradebook/grading/gradingtest"
)

func TestBoltStoreKeepsEverythingAcrossReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "grading.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.CreateStudent(ctx, "Averill", "Simen")
	b, _ := s.CreateStudent(ctx, "Marge", "Garrard")
	if a.ID != 1 || b.ID != 2 {
		t.Fatalf("IDs = %d, %d; want 1, 2", a.ID, b.ID)
	}
	q1 := grading.Grade{Title: "Quiz 1", Type: grading.TypeQuiz, Score: 85}
	if _, err := s.AddGrade(ctx, a.ID, q1, "key-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Error("Check() on a closed store = nil, want an error (so /health turns critical)")
	}

	s, err = boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Check() = %v", err)
	}
	got, err := s.GetStudent(ctx, a.ID)
	if err != nil || len(got.Grades) != 1 || got.Grades[0] != q1 || got.FirstName != "Averill" {
		t.Fatalf("after reopen: %+v, %v; want Averill with %v", got, err, q1)
	}
	// The idempotency key survived too: a repeat adds nothing.
	if g, err := s.AddGrade(ctx, a.ID, q1, "key-1"); err != nil || g != q1 {
		t.Fatalf("repeat after reopen = %v, %v", g, err)
	}
	if got, _ := s.GetStudent(ctx, a.ID); len(got.Grades) != 1 {
		t.Errorf("repeat after reopen added a grade: %v", got.Grades)
	}
	// IDs keep increasing after a reopen.
	c, _ := s.CreateStudent(ctx, "Sydnie", "Barber")
	if c.ID != 3 {
		t.Errorf("ID after reopen = %d, want 3", c.ID)
	}
	all, _ := s.ListStudents(ctx)
	if len(all) != 3 || all[0].ID != 1 || all[1].ID != 2 || all[2].ID != 3 {
		t.Errorf("ListStudents = %+v, want IDs 1, 2, 3 in order", all)
	}
}

func TestBoltStoreIdempotency(t *testing.T) {
	ctx := context.Background()
	s := gradingtest.NewStore(t)
	a, _ := s.CreateStudent(ctx, "Averill", "Simen")
	b, _ := s.CreateStudent(ctx, "Marge", "Garrard")
	g := grading.Grade{Title: "Quiz 3", Type: grading.TypeQuiz, Score: 90}
	for i := 0; i < 3; i++ {
		if got, err := s.AddGrade(ctx, a.ID, g, "same"); err != nil || got != g {
			t.Fatalf("attempt %d: %v, %v", i, got, err)
		}
	}
	if st, _ := s.GetStudent(ctx, a.ID); len(st.Grades) != 1 {
		t.Errorf("three posts with one key stored %d grades, want 1", len(st.Grades))
	}
	if _, err := s.AddGrade(ctx, a.ID, grading.Grade{Title: "Quiz 3", Type: grading.TypeQuiz, Score: 91}, "same"); !errors.Is(err, grading.ErrIdempotencyConflict) {
		t.Errorf("same key, different grade: %v, want grading.ErrIdempotencyConflict", err)
	}
	if _, err := s.AddGrade(ctx, b.ID, g, "same"); !errors.Is(err, grading.ErrIdempotencyConflict) {
		t.Errorf("same key, different student: %v, want grading.ErrIdempotencyConflict", err)
	}
	// Without a key every post is a new grade.
	s.AddGrade(ctx, b.ID, g, "")
	s.AddGrade(ctx, b.ID, g, "")
	if st, _ := s.GetStudent(ctx, b.ID); len(st.Grades) != 2 {
		t.Errorf("two posts without a key stored %d grades, want 2", len(st.Grades))
	}
	// A key used on an unknown student is not remembered.
	if _, err := s.AddGrade(ctx, 99, g, "fresh"); !errors.Is(err, grading.ErrStudentNotFound) {
		t.Errorf("unknown student: %v", err)
	}
	if _, err := s.AddGrade(ctx, a.ID, g, "fresh"); err != nil {
		t.Errorf("key first used on an unknown student was kept: %v", err)
	}
}

func TestBoltStoreRefusesASecondOpener(t *testing.T) {
	path := filepath.Join(t.TempDir(), "grading.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// bbolt's lock is per file descriptor (flock), so a second open in this process contends
	// like a second process would; Options.Timeout makes it fail instead of hanging.
	if s2, err := boltstore.Open(path); err == nil {
		s2.Close()
		t.Fatal("a second Open on a held file succeeded; two writers would corrupt it")
	}
}

// TestStoreIDIsTheFiles: the ID is made with the file and kept in it, so that two instances on
// one file would say they serve the same data, and two files never do.
func TestStoreIDIsTheFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "grading.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	id := s.ID()
	s.Close()
	if s, err = boltstore.Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.ID() != id || !strings.HasPrefix(id, "bolt-") {
		t.Errorf("ID %q after a reopen, %q before; want the same bolt-… ID", s.ID(), id)
	}
	if other := gradingtest.NewStore(t); other.ID() == id {
		t.Errorf("two files share the ID %q", id)
	}
}
