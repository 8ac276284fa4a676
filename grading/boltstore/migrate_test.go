package boltstore_test

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/boltstore"
)

// TestOpenMigratesAFileFromBeforeGradeIDs writes a file as the store wrote it before grades had
// IDs and versions (the same buckets and JSON, no schema key), opens it, and checks that every
// grade got an ID and version 1, that the answers of its Idempotency-Keys name their grades, that
// the IDs stay the same through another open, and that new grades get new ones.
func TestOpenMigratesAFileFromBeforeGradeIDs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "grading.db")
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	key := func(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }
	err = db.Update(func(tx *bolt.Tx) error {
		students, _ := tx.CreateBucket([]byte("students"))
		idem, _ := tx.CreateBucket([]byte("idempotency"))
		meta, _ := tx.CreateBucket([]byte("meta"))
		for _, kv := range []struct {
			b    *bolt.Bucket
			k, v []byte
		}{
			{meta, []byte("store_id"), []byte("bolt-0123456789abcdef")},
			{students, key(1), []byte(`{"id":1,"firstName":"Averill","lastName":"Simen","grades":[` +
				`{"title":"Quiz 1","type":"Quiz","score":85},` +
				`{"title":"Quiz 1","type":"Quiz","score":85,"enteredBy":"frizzle","enteredAt":"2026-11-01T09:00:00Z"},` +
				`{"title":"Quiz 1","type":"Quiz","score":85,"enteredBy":"frizzle","enteredAt":"2026-11-01T09:00:00Z"}]}`)},
			{students, key(2), []byte(`{"id":2,"firstName":"Marge","lastName":"Garrard","grades":[]}`)},
			{idem, []byte("k1"), []byte(`{"studentId":1,"grade":{"title":"Quiz 1","type":"Quiz","score":85,"enteredBy":"frizzle","enteredAt":"2026-11-01T09:00:00Z"}}`)},
			{idem, []byte("k2"), []byte(`{"studentId":1,"grade":{"title":"Quiz 1","type":"Quiz","score":85,"enteredBy":"frizzle","enteredAt":"2026-11-01T09:00:00Z"}}`)},
		} {
			if err := kv.b.Put(kv.k, kv.v); err != nil {
				return err
			}
		}
		return students.SetSequence(2)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	s, err := boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if s.ID() != "bolt-0123456789abcdef" {
		t.Errorf("ID() = %q; the migration must keep the store's ID", s.ID())
	}
	st, err := s.GetStudent(ctx, 1)
	if err != nil || len(st.Grades) != 3 {
		t.Fatalf("GetStudent(1) = %+v, %v", st, err)
	}
	for i, g := range st.Grades {
		if g.ID != i+1 || g.Version != 1 {
			t.Errorf("grade %d = %+v, want ID %d at version 1", i, g, i+1)
		}
	}
	// The two keys of two equal grades answer the two grades, one each.
	want := grading.Grade{Title: "Quiz 1", Type: grading.TypeQuiz, Score: 85, EnteredBy: "frizzle", EnteredAt: at}
	ids := map[int]bool{}
	for _, k := range []string{"k1", "k2"} {
		g, err := s.AddGrade(ctx, 1, want, k)
		if err != nil || g.ID < 2 || g.Version != 1 {
			t.Errorf("repeat under %s = %+v, %v; want grade 2 or 3", k, g, err)
		}
		ids[g.ID] = true
	}
	if len(ids) != 2 {
		t.Errorf("the two keys answered grades %v, want two different ones", ids)
	}
	if _, err := s.ChangeGrade(ctx, 1, 1, grading.GradeWrite{Change: grading.GradeChange{Score: new(float64)}, By: "frizzle", At: at}); err != nil {
		t.Errorf("correcting a migrated grade: %v", err)
	}
	s.Close()

	s, err = boltstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	again, _ := s.GetStudent(ctx, 1)
	if len(again.Grades) != 3 || again.Grades[0].ID != 1 || again.Grades[0].Version != 2 || again.Grades[2].ID != 3 {
		t.Errorf("after a second open: %+v; want the same IDs, grade 1 at version 2", again.Grades)
	}
	g, err := s.AddGrade(ctx, 2, grading.Grade{Title: "Quiz 2", Type: grading.TypeQuiz, Score: 1}, "")
	if err != nil || g.ID != 4 {
		t.Errorf("a new grade = %+v, %v; want ID 4", g, err)
	}
}
