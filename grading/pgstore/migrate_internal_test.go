package pgstore

import (
	"context"
	"io/fs"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/pgtest"
)

// TestMigrationGivesExistingGradesVersions brings a database to the second schema (before
// grades had versions), writes grades as that version did, and opens it: every grade keeps its
// ID and is at version 1, a repeat under an old key answers its grade, and the grades can be
// corrected and removed.
func TestMigrationGivesExistingGradesVersions(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, stdlib.OpenDBFromPool(pool), fsys,
		goose.WithDisableGlobalRegistry(true), goose.WithLogger(gooseLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provider.UpTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	provider.Close()
	for _, q := range []string{
		`INSERT INTO students (first_name, last_name) VALUES ('Averill', 'Simen')`,
		`INSERT INTO grades (student_id, title, type, score) VALUES (1, 'Quiz 1', 'Quiz', 85)`,
		`INSERT INTO grades (student_id, title, type, score, idempotency_key, entered_by, entered_at) VALUES (1, 'Quiz 2', 'Quiz', 90, 'k1', 'frizzle', '2026-11-01T09:00:00Z')`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	pool.Close()

	s, err := Open(ctx, Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.GetStudent(ctx, 1)
	if err != nil || len(st.Grades) != 2 || st.Grades[0].ID != 1 || st.Grades[1].ID != 2 || st.Grades[0].Version != 1 || st.Grades[1].Version != 1 {
		t.Fatalf("after the migration: %+v, %v; want grades 1 and 2 at version 1", st, err)
	}
	again, err := s.AddGrade(ctx, 1, grading.Grade{Title: "Quiz 2", Type: grading.TypeQuiz, Score: 90, EnteredBy: "frizzle"}, "k1")
	if err != nil || again != st.Grades[1] {
		t.Errorf("repeat under an old key = %+v, %v; want %+v", again, err, st.Grades[1])
	}
	score := 80.0
	if g, err := s.ChangeGrade(ctx, 1, 1, grading.GradeWrite{Change: grading.GradeChange{Score: &score}}); err != nil || g.Version != 2 {
		t.Errorf("correcting a migrated grade = %+v, %v", g, err)
	}
	if _, err := s.ChangeGrade(ctx, 1, 2, grading.GradeWrite{Remove: true}); err != nil {
		t.Errorf("removing a migrated grade = %v", err)
	}
	if events, err := s.GradeHistory(ctx, 1); err != nil || len(events) != 2 {
		t.Errorf("history = %+v, %v; want two entries", events, err)
	}
}
