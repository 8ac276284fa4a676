package boltstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/boltstore"
	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/pkg/errs"
)

// A write the file system refuses is a storage failure named by its class (never the file's
// path); Ping fails from then on, so that /health takes the instance out of rotation, and passes
// again by itself once a write can succeed, with nothing lost or written twice.
func TestRefusedWriteFailsPingUntilAWriteSucceeds(t *testing.T) {
	if !testkit.Isolate(t) {
		return
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "grading.db")
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.CreateStudent(ctx, "Ann", "Lee")
	if err != nil {
		t.Fatal(err)
	}
	g := grading.Grade{Title: "Quiz", Type: grading.TypeQuiz, Score: 50}

	restore := testkit.LimitFileSize(t)
	_, err = s.AddGrade(ctx, st.ID, g, "key-1")
	var se *errs.StorageError
	if !errors.As(err, &se) || !errors.Is(err, errs.ErrUnavailable) || strings.Contains(err.Error(), path) {
		t.Fatalf("AddGrade on a full file system = %v; want an errs.StorageError without the path", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, errs.ErrUnavailable) {
		t.Errorf("Ping after a refused write = %v; want storage unavailable", err)
	}
	if got, err := s.GetStudent(ctx, st.ID); err != nil || len(got.Grades) != 0 {
		t.Errorf("a read after the refused write = %+v, %v; want the student without the grade", got, err)
	}
	restore()
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping once writes can succeed = %v; want nil", err)
	}
	if _, err := s.AddGrade(ctx, st.ID, g, "key-1"); err != nil {
		t.Fatalf("AddGrade once writes can succeed: %v", err)
	}
	if got, _ := s.GetStudent(ctx, st.ID); len(got.Grades) != 1 {
		t.Errorf("grades after the retry = %v; want exactly one", got.Grades)
	}
}
