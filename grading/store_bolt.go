package grading

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket names. Students are keyed by their ID as 8 big-endian bytes, so that a cursor walks
// them in ID order; the bucket's sequence hands out the IDs.
const (
	bucketStudents    = "students"
	bucketIdempotency = "idempotency"
)

// BoltStore is the Store in a single bbolt file. Every write is one transaction that bbolt
// fsyncs before Update returns, so an acknowledged write survives kill -9.
type BoltStore struct {
	db *bolt.DB
}

// idempotencyRecord is what an Idempotency-Key remembers: the request it was first used for
// and the answer given.
type idempotencyRecord struct {
	StudentID int   `json:"studentId"`
	Grade     Grade `json:"grade"`
}

// OpenBoltStore opens (creating if needed) the store file at path. It fails rather than waits
// when another process holds the file.
func OpenBoltStore(path string) (*BoltStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("grading store: %w", err)
	}
	// NoSync stays false: commits are fsynced, which is what makes an acknowledged grade durable.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("grading store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range []string{bucketStudents, bucketIdempotency} {
			if _, err := tx.CreateBucketIfNotExists([]byte(b)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("grading store %s: %w", path, err)
	}
	return &BoltStore{db: db}, nil
}

func studentKey(id int) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], uint64(id))
	return k[:]
}

// ListStudents implements Store.
func (s *BoltStore) ListStudents(ctx context.Context) ([]Student, error) {
	students := []Student{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketStudents)).ForEach(func(_, v []byte) error {
			var st Student
			if err := json.Unmarshal(v, &st); err != nil {
				return fmt.Errorf("corrupt student record: %w", err)
			}
			students = append(students, st)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("grading store: list students: %w", err)
	}
	return students, nil
}

// GetStudent implements Store.
func (s *BoltStore) GetStudent(ctx context.Context, id int) (Student, error) {
	var st Student
	err := s.db.View(func(tx *bolt.Tx) error {
		return getStudent(tx, id, &st)
	})
	if err != nil {
		if errors.Is(err, ErrStudentNotFound) {
			return Student{}, err
		}
		return Student{}, fmt.Errorf("grading store: get student %d: %w", id, err)
	}
	return st, nil
}

func getStudent(tx *bolt.Tx, id int, st *Student) error {
	if id <= 0 {
		return ErrStudentNotFound
	}
	v := tx.Bucket([]byte(bucketStudents)).Get(studentKey(id))
	if v == nil {
		return ErrStudentNotFound
	}
	if err := json.Unmarshal(v, st); err != nil {
		return fmt.Errorf("corrupt student record: %w", err)
	}
	return nil
}

func putStudent(tx *bolt.Tx, st Student) error {
	st.Average = nil // computed on read, never stored
	v, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return tx.Bucket([]byte(bucketStudents)).Put(studentKey(st.ID), v)
}

// CreateStudent implements Store.
func (s *BoltStore) CreateStudent(ctx context.Context, firstName, lastName string) (Student, error) {
	st := Student{FirstName: firstName, LastName: lastName, Grades: []Grade{}}
	err := s.db.Update(func(tx *bolt.Tx) error {
		seq, err := tx.Bucket([]byte(bucketStudents)).NextSequence()
		if err != nil {
			return err
		}
		st.ID = int(seq)
		return putStudent(tx, st)
	})
	if err != nil {
		return Student{}, fmt.Errorf("grading store: create student: %w", err)
	}
	return st, nil
}

// AddGrade implements Store. The grade and its idempotency key are written in one
// transaction, so a crash can never keep one without the other.
func (s *BoltStore) AddGrade(ctx context.Context, studentID int, g Grade, idempotencyKey string) (Grade, error) {
	var answer Grade
	err := s.db.Update(func(tx *bolt.Tx) error {
		idem := tx.Bucket([]byte(bucketIdempotency))
		if idempotencyKey != "" {
			if v := idem.Get([]byte(idempotencyKey)); v != nil {
				var rec idempotencyRecord
				if err := json.Unmarshal(v, &rec); err != nil {
					return fmt.Errorf("corrupt idempotency record: %w", err)
				}
				if rec.StudentID != studentID || rec.Grade != g {
					return ErrIdempotencyConflict
				}
				answer = rec.Grade
				return nil
			}
		}
		var st Student
		if err := getStudent(tx, studentID, &st); err != nil {
			return err
		}
		st.Grades = append(st.Grades, g)
		if err := putStudent(tx, st); err != nil {
			return err
		}
		if idempotencyKey != "" {
			rec, err := json.Marshal(idempotencyRecord{StudentID: studentID, Grade: g})
			if err != nil {
				return err
			}
			if err := idem.Put([]byte(idempotencyKey), rec); err != nil {
				return err
			}
		}
		answer = g
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrStudentNotFound) || errors.Is(err, ErrIdempotencyConflict) {
			return Grade{}, err
		}
		return Grade{}, fmt.Errorf("grading store: add grade to student %d: %w", studentID, err)
	}
	return answer, nil
}

// SeedIfEmpty implements Store. The emptiness check and every student are one transaction: a
// failure or a crash anywhere in it leaves the store as it was, and two seeds cannot interleave.
func (s *BoltStore) SeedIfEmpty(ctx context.Context, students []Student) (int, error) {
	added := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketStudents))
		if k, _ := b.Cursor().First(); k != nil {
			return nil
		}
		for _, d := range students {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			st := Student{ID: int(seq), FirstName: d.FirstName, LastName: d.LastName, Grades: append([]Grade{}, d.Grades...)}
			if err := putStudent(tx, st); err != nil {
				return fmt.Errorf("student %d (%s %s): %w", st.ID, st.FirstName, st.LastName, err)
			}
		}
		added = len(students)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("grading store: seed: %w", err)
	}
	return added, nil
}

// Check implements Checker: it fails once the store is closed or the file cannot be read.
func (s *BoltStore) Check(ctx context.Context) error {
	return s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte(bucketStudents)) == nil {
			return errors.New("grading store: students bucket is missing")
		}
		return nil
	})
}

// Close implements Store.
func (s *BoltStore) Close() error { return s.db.Close() }
