package boltstore_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/boltstore"
	"github.com/gradebook/gradebook/grading/storetest"
)

// factory opens handles on one fresh bbolt file. Only one may be open at a time: bbolt locks
// the file for the process that holds it.
func factory(t *testing.T) storetest.Factory {
	path := filepath.Join(t.TempDir(), "grading.db")
	return storetest.Factory{
		Open: func(t *testing.T) grading.Store {
			t.Helper()
			s, err := boltstore.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Exclusive: true,
		IDPrefix:  "bolt-",
	}
}

func TestConformance(t *testing.T) { storetest.Run(t, factory) }

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

// TestFailedSeedTakesNoIDs: the bucket's sequence is part of the transaction, so a seed that
// failed partway leaves the next one to hand out IDs 1 to 5, as on a file that was never seeded.
// (A database sequence is not rolled back; the suite asserts only that IDs increase.)
func TestFailedSeedTakesNoIDs(t *testing.T) {
	ctx := context.Background()
	s, err := boltstore.Open(filepath.Join(t.TempDir(), "grading.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	poisoned := grading.DemoStudents()
	poisoned[2].Grades[1].Score = math.NaN()
	if n, err := s.SeedIfEmpty(ctx, poisoned); err == nil || n != 0 {
		t.Fatalf("SeedIfEmpty with a failing third write = %d, %v; want 0 and an error", n, err)
	}
	if n, err := grading.SeedDemo(ctx, s); n != 5 || err != nil {
		t.Fatalf("SeedDemo after a failed seed = %d, %v; want 5", n, err)
	}
	all, _ := s.ListStudents(ctx)
	if len(all) != 5 || all[0].ID != 1 || all[4].ID != 5 {
		t.Errorf("after the retry: %+v; want IDs 1 to 5", all)
	}
}
