package boltstore

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/pkg/errs"
)

// Bucket names. Students are keyed by their ID as 8 big-endian bytes, so that a cursor walks
// them in ID order; the bucket's sequence hands out the IDs.
const (
	bucketStudents    = "students"
	bucketIdempotency = "idempotency"
	// bucketMeta holds the store's own facts: its ID, under keyStoreID.
	bucketMeta = "meta"
	keyStoreID = "store_id"
	// keyWriteProbe is what Ping writes while the store is failing, to learn whether writes
	// succeed again: the time of the probe, which nothing reads.
	keyWriteProbe = "write_probe"
)

// Store is a grading.Store in a single bbolt file. Every write is one transaction that bbolt
// fsyncs before Update returns, so an acknowledged write survives kill -9.
//
// A write that fails because of the storage under the file (a full disk, a file size limit, a
// read-only or failing file system: errs.StorageClass) answers an errs.StorageError, which every
// transport answers as "storage unavailable: <class>" (503, UNAVAILABLE), and makes Ping fail
// until a write succeeds again. Ping itself tries one small write while the store is failing, so
// that an instance whose /health took it out of rotation comes back by itself once there is room.
type Store struct {
	db *bolt.DB
	id string

	// failing is the storage error of the last write, or nil once a write has succeeded.
	failing atomic.Pointer[errs.StorageError]
}

// idempotencyRecord is what an Idempotency-Key remembers: the request it was first used for
// and the answer given.
type idempotencyRecord struct {
	StudentID int           `json:"studentId"`
	Grade     grading.Grade `json:"grade"`
}

// Open opens (creating if needed) the store file at path. It fails rather than waits
// when another process holds the file.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("grading store: %w", err)
	}
	// NoSync stays false: commits are fsynced, which is what makes an acknowledged grade durable.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("grading store %s: %w", path, err)
	}
	var id string
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range []string{bucketStudents, bucketIdempotency, bucketMeta, bucketGradeIDs, bucketHistory, bucketChangeKeys} {
			if _, err := tx.CreateBucketIfNotExists([]byte(b)); err != nil {
				return err
			}
		}
		if err := migrate(tx); err != nil {
			return err
		}
		// A store made before IDs existed gets one now: it is still the same data from here on.
		meta := tx.Bucket([]byte(bucketMeta))
		if v := meta.Get([]byte(keyStoreID)); v != nil {
			id = string(v)
			return nil
		}
		id = "bolt-" + newID()
		return meta.Put([]byte(keyStoreID), []byte(id))
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("grading store %s: %w", path, err)
	}
	return &Store{db: db, id: id}, nil
}

func studentKey(id int) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], uint64(id))
	return k[:]
}

// ListStudents implements grading.Store.
func (s *Store) ListStudents(ctx context.Context) ([]grading.Student, error) {
	students := []grading.Student{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketStudents)).ForEach(func(_, v []byte) error {
			var st grading.Student
			if err := grading.UnmarshalStudent(v, &st); err != nil {
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

// GetStudent implements grading.Store.
func (s *Store) GetStudent(ctx context.Context, id int) (grading.Student, error) {
	var st grading.Student
	err := s.db.View(func(tx *bolt.Tx) error {
		return getStudent(tx, id, &st)
	})
	if err != nil {
		if errors.Is(err, grading.ErrStudentNotFound) {
			return grading.Student{}, err
		}
		return grading.Student{}, fmt.Errorf("grading store: get student %d: %w", id, err)
	}
	return st, nil
}

func getStudent(tx *bolt.Tx, id int, st *grading.Student) error {
	if id <= 0 {
		return grading.ErrStudentNotFound
	}
	v := tx.Bucket([]byte(bucketStudents)).Get(studentKey(id))
	if v == nil {
		return grading.ErrStudentNotFound
	}
	if err := grading.UnmarshalStudent(v, st); err != nil {
		return fmt.Errorf("corrupt student record: %w", err)
	}
	return nil
}

func putStudent(tx *bolt.Tx, st grading.Student) error {
	st.Average = nil // computed on read, never stored
	v, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return tx.Bucket([]byte(bucketStudents)).Put(studentKey(st.ID), v)
}

// CreateStudent implements grading.Store.
func (s *Store) CreateStudent(ctx context.Context, firstName, lastName string) (grading.Student, error) {
	st := grading.Student{FirstName: firstName, LastName: lastName, Grades: []grading.Grade{}}
	err := s.update(func(tx *bolt.Tx) error {
		seq, err := tx.Bucket([]byte(bucketStudents)).NextSequence()
		if err != nil {
			return err
		}
		st.ID = int(seq)
		return putStudent(tx, st)
	})
	if err != nil {
		return grading.Student{}, storeError("create student", err)
	}
	return st, nil
}

// AddGrade implements grading.Store. The grade and its idempotency key are written in one
// transaction, so a crash can never keep one without the other.
func (s *Store) AddGrade(ctx context.Context, studentID int, g grading.Grade, idempotencyKey string) (grading.Grade, error) {
	var answer grading.Grade
	err := s.update(func(tx *bolt.Tx) error {
		idem := tx.Bucket([]byte(bucketIdempotency))
		if idempotencyKey != "" {
			if v := idem.Get([]byte(idempotencyKey)); v != nil {
				var rec idempotencyRecord
				if err := json.Unmarshal(v, &rec); err != nil {
					return fmt.Errorf("corrupt idempotency record: %w", err)
				}
				if rec.StudentID != studentID || !rec.Grade.SameEntry(g) {
					return grading.ErrIdempotencyConflict
				}
				answer = rec.Grade
				return nil
			}
		}
		var st grading.Student
		if err := getStudent(tx, studentID, &st); err != nil {
			return err
		}
		if err := newGradeID(tx, &g); err != nil {
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
		if errors.Is(err, grading.ErrStudentNotFound) || errors.Is(err, grading.ErrIdempotencyConflict) {
			return grading.Grade{}, err
		}
		return grading.Grade{}, storeError(fmt.Sprintf("add grade to student %d", studentID), err)
	}
	return answer, nil
}

// SeedIfEmpty implements grading.Store. The emptiness check and every student are one transaction: a
// failure or a crash anywhere in it leaves the store as it was, and two seeds cannot interleave.
func (s *Store) SeedIfEmpty(ctx context.Context, students []grading.Student) (int, error) {
	added := 0
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketStudents))
		if k, _ := b.Cursor().First(); k != nil {
			return nil
		}
		for _, d := range students {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			st := grading.Student{ID: int(seq), FirstName: d.FirstName, LastName: d.LastName, Grades: append([]grading.Grade{}, d.Grades...)}
			for i := range st.Grades {
				if err := newGradeID(tx, &st.Grades[i]); err != nil {
					return err
				}
			}
			if err := putStudent(tx, st); err != nil {
				return fmt.Errorf("student %d (%s %s): %w", st.ID, st.FirstName, st.LastName, err)
			}
		}
		added = len(students)
		return nil
	})
	if err != nil {
		return 0, storeError("seed", err)
	}
	return added, nil
}

// update runs fn in a write transaction, keeping track of whether writes fail for a storage
// reason: such a failure comes back as an *errs.StorageError and makes Ping fail; a successful
// write clears it.
func (s *Store) update(fn func(tx *bolt.Tx) error) error {
	err := s.db.Update(fn)
	if err == nil {
		s.failing.Store(nil)
		return nil
	}
	var se *errs.StorageError
	if errors.As(errs.Storage(err), &se) {
		s.failing.Store(se)
		return se
	}
	return err
}

// storeError is a failed write's answer: a storage failure or a domain error as it is (the
// former's message must not name the file), anything else with what the store was doing.
func storeError(op string, err error) error {
	var se *errs.StorageError
	if errors.As(err, &se) {
		return se
	}
	return fmt.Errorf("grading store: %s: %w", op, err)
}

// Ping implements grading.Pinger: it fails once the store is closed or the file cannot be read,
// and while writes fail for a storage reason. In that state it tries a small write itself (see
// Store), so it answers nil again as soon as one succeeds.
func (s *Store) Ping(ctx context.Context) error {
	if s.failing.Load() != nil {
		err := s.update(func(tx *bolt.Tx) error {
			stamp, _ := time.Now().UTC().MarshalText()
			return tx.Bucket([]byte(bucketMeta)).Put([]byte(keyWriteProbe), stamp)
		})
		if err != nil {
			return err
		}
	}
	return s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte(bucketStudents)) == nil {
			return errors.New("grading store: students bucket is missing")
		}
		return nil
	})
}

// ID implements grading.Store: a random ID made when the file was created, kept in it.
func (s *Store) ID() string { return s.id }

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Close implements grading.Store.
func (s *Store) Close() error { return s.db.Close() }
