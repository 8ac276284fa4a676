package boltstore_test

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/boltstore"
	"github.com/gradebook/gradebook/grading/gradingtest"
)

func TestSeedDemoOnlyIntoAnEmptyStore(t *testing.T) {
	ctx := context.Background()
	store := gradingtest.NewStore(t)
	n, err := grading.SeedDemo(ctx, store)
	if err != nil || n != 5 {
		t.Fatalf("SeedDemo(empty) = %d, %v; want 5 students", n, err)
	}
	all, _ := store.ListStudents(ctx)
	names := []string{}
	for _, st := range all {
		names = append(names, st.FirstName+" "+st.LastName)
		if len(st.Grades) != 3 || st.Grades[0].Title != "Quiz 1" || st.Grades[1].Title != "Week 1 Homework" || st.Grades[2].Title != "Quiz 2" {
			t.Errorf("%s %s has grades %v, want Quiz 1, Week 1 Homework, Quiz 2", st.FirstName, st.LastName, st.Grades)
		}
	}
	if got, want := strings.Join(names, ", "), "Averill Simen, Marge Garrard, Sydnie Barber, Louie Easton, Kylee Attwood"; got != want {
		t.Errorf("demo students = %s, want %s", got, want)
	}
	if n, err := grading.SeedDemo(ctx, store); n != 0 || err != nil {
		t.Errorf("SeedDemo(non-empty) = %d, %v; want it to leave the store alone", n, err)
	}
	if all, _ := store.ListStudents(ctx); len(all) != 5 {
		t.Errorf("store has %d students after a second seed, want 5", len(all))
	}
}

func TestSeedDemoIntoBoltStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "grading.db")
	store, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := grading.SeedDemo(ctx, store); n != 5 || err != nil {
		t.Fatalf("SeedDemo(empty) = %d, %v; want 5", n, err)
	}
	want := grading.DemoStudents()
	check := func(when string) {
		t.Helper()
		all, err := store.ListStudents(ctx)
		if err != nil || len(all) != len(want) {
			t.Fatalf("%s: %d students, %v; want %d", when, len(all), err, len(want))
		}
		for i, st := range all {
			w := want[i]
			if st.ID != i+1 || st.FirstName != w.FirstName || st.LastName != w.LastName || len(st.Grades) != len(w.Grades) {
				t.Fatalf("%s: student %d = %+v, want ID %d %s %s with %d grades", when, i, st, i+1, w.FirstName, w.LastName, len(w.Grades))
			}
			for j, g := range st.Grades {
				if g != w.Grades[j] {
					t.Errorf("%s: %s's grade %d = %v, want %v", when, st.FirstName, j, g, w.Grades[j])
				}
			}
		}
	}
	check("after seeding")

	// A second start on the seeded store changes nothing, before and after a reopen.
	if n, err := grading.SeedDemo(ctx, store); n != 0 || err != nil {
		t.Errorf("SeedDemo(seeded) = %d, %v; want 0, nil", n, err)
	}
	check("after a second seed")
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if store, err = boltstore.Open(path); err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if n, err := grading.SeedDemo(ctx, store); n != 0 || err != nil {
		t.Errorf("SeedDemo(seeded, reopened) = %d, %v; want 0, nil", n, err)
	}
	check("after a reopen and a third seed")
	if st, _ := store.CreateStudent(ctx, "New", "Student"); st.ID != 6 {
		t.Errorf("first student after the seed has ID %d, want 6", st.ID)
	}
}

func TestSeedDemoLeavesAUsersStoreAlone(t *testing.T) {
	ctx := context.Background()
	store := gradingtest.NewStore(t)
	if _, err := store.CreateStudent(ctx, "Only", "Student"); err != nil {
		t.Fatal(err)
	}
	if n, err := grading.SeedDemo(ctx, store); n != 0 || err != nil {
		t.Errorf("SeedDemo(a user's store) = %d, %v; want 0, nil", n, err)
	}
	if all, _ := store.ListStudents(ctx); len(all) != 1 || all[0].FirstName != "Only" {
		t.Errorf("store after grading.SeedDemo = %+v, want only the user's student", all)
	}
}

// A write that fails partway through a seed must leave nothing behind: not the students
// written before it, and not the IDs they took, so that the next start seeds in full.
func TestSeedIfEmptyIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "grading.db")
	store, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// The third student cannot be encoded (JSON has no NaN), so its write fails after two
	// students and their grades were put in the same transaction.
	poisoned := grading.DemoStudents()
	poisoned[2].Grades[1].Score = math.NaN()
	n, err := store.SeedIfEmpty(ctx, poisoned)
	if err == nil || n != 0 {
		t.Fatalf("SeedIfEmpty with a failing third write = %d, %v; want 0 and an error", n, err)
	}
	t.Logf("the failed seed: %v", err)
	if all, err := store.ListStudents(ctx); err != nil || len(all) != 0 {
		t.Fatalf("after a failed seed the store holds %d students (%+v), %v; want none", len(all), all, err)
	}
	// Nothing reached the file either.
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if store, err = boltstore.Open(path); err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if all, _ := store.ListStudents(ctx); len(all) != 0 {
		t.Fatalf("after a failed seed and a reopen the store holds %d students, want none", len(all))
	}
	// So the next start seeds all of them, from ID 1.
	if n, err := grading.SeedDemo(ctx, store); n != 5 || err != nil {
		t.Fatalf("SeedDemo after a failed seed = %d, %v; want 5", n, err)
	}
	all, _ := store.ListStudents(ctx)
	if len(all) != 5 || all[0].ID != 1 || all[4].ID != 5 || len(all[2].Grades) != 3 {
		t.Errorf("after the retry: %+v; want the five demo students, IDs 1 to 5, with their grades", all)
	}
}
