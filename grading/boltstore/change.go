package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	bolt "go.etcd.io/bbolt"

	"github.com/gradebook/gradebook/grading"
)

// Buckets and keys of grade IDs, corrections and history.
const (
	// bucketGradeIDs holds nothing: its sequence hands out grade IDs, unique in the file.
	bucketGradeIDs = "grade_ids"
	// bucketHistory holds grading.GradeEvents as JSON, keyed by the student's key (8 bytes) and
	// the bucket's sequence (8 more), so that a cursor walks one student's history in order.
	bucketHistory = "history"
	// bucketChangeKeys maps the Idempotency-Key of a correction or removal to a changeRecord.
	bucketChangeKeys = "change_keys"
	// keySchema in bucketMeta is the version of the records' layout; a file without one was
	// written before grades had IDs and versions (schema 1).
	keySchema     = "schema"
	currentSchema = 2
)

// changeRecord is what the Idempotency-Key of a correction or removal remembers.
type changeRecord struct {
	StudentID int           `json:"studentId"`
	GradeID   int           `json:"gradeId"`
	Request   string        `json:"request"` // grading.GradeWrite.Fingerprint
	Answer    grading.Grade `json:"answer"`
}

// migrate brings a file written by an earlier version up to currentSchema, in Open's
// transaction, so that it happens once and entirely or not at all. Schema 2 gives every grade an
// ID (in the order of students, then of their grades) and version 1, and gives the answers its
// Idempotency-Keys remember the ID of the grade they stored, so that a repeat answers it too.
func migrate(tx *bolt.Tx) error {
	meta := tx.Bucket([]byte(bucketMeta))
	if v := meta.Get([]byte(keySchema)); v != nil {
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return fmt.Errorf("corrupt schema version %q", v)
		}
		if n > currentSchema {
			return fmt.Errorf("the file has schema %d, written by a later version; this one reads up to %d", n, currentSchema)
		}
		if n == currentSchema {
			return nil
		}
	}
	students := tx.Bucket([]byte(bucketStudents))
	var all []grading.Student
	if err := students.ForEach(func(_, v []byte) error {
		var st grading.Student
		if err := json.Unmarshal(v, &st); err != nil {
			return fmt.Errorf("corrupt student record: %w", err)
		}
		all = append(all, st)
		return nil
	}); err != nil {
		return err
	}
	byID := map[int][]grading.Grade{}
	for _, st := range all {
		for i := range st.Grades {
			if st.Grades[i].ID == 0 {
				if err := newGradeID(tx, &st.Grades[i]); err != nil {
					return err
				}
			}
		}
		if err := putStudent(tx, st); err != nil {
			return err
		}
		byID[st.ID] = st.Grades
	}
	idem := tx.Bucket([]byte(bucketIdempotency))
	updated := map[string][]byte{}
	if err := idem.ForEach(func(k, v []byte) error {
		var rec idempotencyRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("corrupt idempotency record: %w", err)
		}
		if rec.Grade.ID != 0 {
			return nil
		}
		grades := byID[rec.StudentID]
		i := slices.IndexFunc(grades, func(g grading.Grade) bool {
			return g.ID != 0 && g.SameEntry(rec.Grade) && g.EnteredAt.Equal(rec.Grade.EnteredAt)
		})
		if i < 0 {
			return nil // its grade is not to be found: the repeat answers it as it was
		}
		rec.Grade.ID, rec.Grade.Version = grades[i].ID, grades[i].Version
		grades[i].ID = 0 // claimed: two keys of equal grades name two grades
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		updated[string(k)] = b
		return nil
	}); err != nil {
		return err
	}
	for k, v := range updated {
		if err := idem.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return meta.Put([]byte(keySchema), []byte(strconv.Itoa(currentSchema)))
}

// newGradeID gives g the next grade ID and version 1.
func newGradeID(tx *bolt.Tx, g *grading.Grade) error {
	seq, err := tx.Bucket([]byte(bucketGradeIDs)).NextSequence()
	if err != nil {
		return err
	}
	g.ID, g.Version = int(seq), 1
	return nil
}

// domainError tells the errors that are answers of the domain, which pass through unchanged.
func domainError(err error) bool {
	for _, d := range []error{grading.ErrStudentNotFound, grading.ErrGradeNotFound, grading.ErrIdempotencyConflict,
		grading.ErrVersionMismatch, grading.ErrStudentHasGrades} {
		if errors.Is(err, d) {
			return true
		}
	}
	return false
}

// ChangeGrade implements grading.Store: the grade, its history entry and its key are one
// transaction.
func (s *Store) ChangeGrade(ctx context.Context, studentID, gradeID int, w grading.GradeWrite) (grading.Grade, error) {
	var answer grading.Grade
	request := w.Fingerprint(studentID, gradeID)
	err := s.update(func(tx *bolt.Tx) error {
		keys := tx.Bucket([]byte(bucketChangeKeys))
		if w.IdempotencyKey != "" {
			if v := keys.Get([]byte(w.IdempotencyKey)); v != nil {
				var rec changeRecord
				if err := json.Unmarshal(v, &rec); err != nil {
					return fmt.Errorf("corrupt idempotency record: %w", err)
				}
				if rec.Request != request {
					return grading.ErrIdempotencyConflict
				}
				answer = rec.Answer
				return nil
			}
		}
		var st grading.Student
		if err := getStudent(tx, studentID, &st); err != nil {
			return err
		}
		i := slices.IndexFunc(st.Grades, func(g grading.Grade) bool { return g.ID == gradeID })
		if i < 0 {
			return grading.ErrGradeNotFound
		}
		old := st.Grades[i]
		if w.IfVersion != nil && *w.IfVersion != old.Version {
			return grading.ErrVersionMismatch
		}
		var event grading.GradeEvent
		if w.Remove {
			st.Grades = slices.Delete(st.Grades, i, i+1)
			answer = old
			event = w.Event(studentID, old, nil)
		} else {
			g := w.Change.Apply(old)
			g.Version = old.Version + 1
			st.Grades[i] = g
			answer = g
			event = w.Event(studentID, old, &g)
		}
		if err := putStudent(tx, st); err != nil {
			return err
		}
		if err := putEvent(tx, event); err != nil {
			return err
		}
		if w.IdempotencyKey != "" {
			rec, err := json.Marshal(changeRecord{StudentID: studentID, GradeID: gradeID, Request: request, Answer: answer})
			if err != nil {
				return err
			}
			return keys.Put([]byte(w.IdempotencyKey), rec)
		}
		return nil
	})
	if err != nil {
		if domainError(err) {
			return grading.Grade{}, err
		}
		return grading.Grade{}, storeError(fmt.Sprintf("change grade %d of student %d", gradeID, studentID), err)
	}
	return answer, nil
}

func putEvent(tx *bolt.Tx, e grading.GradeEvent) error {
	b := tx.Bucket([]byte(bucketHistory))
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	k := binary.BigEndian.AppendUint64(studentKey(e.StudentID), seq)
	return b.Put(k, v)
}

// GradeHistory implements grading.Store.
func (s *Store) GradeHistory(ctx context.Context, studentID int) ([]grading.GradeEvent, error) {
	events := []grading.GradeEvent{}
	err := s.db.View(func(tx *bolt.Tx) error {
		var st grading.Student
		if err := getStudent(tx, studentID, &st); err != nil {
			return err
		}
		prefix := studentKey(studentID)
		c := tx.Bucket([]byte(bucketHistory)).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var e grading.GradeEvent
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("corrupt history record: %w", err)
			}
			events = append(events, e)
		}
		return nil
	})
	if err != nil {
		if domainError(err) {
			return nil, err
		}
		return nil, fmt.Errorf("grading store: history of student %d: %w", studentID, err)
	}
	return events, nil
}

// RenameStudent implements grading.Store.
func (s *Store) RenameStudent(ctx context.Context, id int, firstName, lastName string) (grading.Student, error) {
	var st grading.Student
	err := s.update(func(tx *bolt.Tx) error {
		if err := getStudent(tx, id, &st); err != nil {
			return err
		}
		st.FirstName, st.LastName = firstName, lastName
		return putStudent(tx, st)
	})
	if err != nil {
		if domainError(err) {
			return grading.Student{}, err
		}
		return grading.Student{}, storeError(fmt.Sprintf("rename student %d", id), err)
	}
	if st.Grades == nil {
		st.Grades = []grading.Grade{}
	}
	return st, nil
}

// RemoveStudent implements grading.Store: the student, their history and every key that names
// them go in one transaction.
func (s *Store) RemoveStudent(ctx context.Context, id int, force bool) error {
	err := s.update(func(tx *bolt.Tx) error {
		var st grading.Student
		if err := getStudent(tx, id, &st); err != nil {
			return err
		}
		if len(st.Grades) > 0 && !force {
			return grading.ErrStudentHasGrades
		}
		if err := tx.Bucket([]byte(bucketStudents)).Delete(studentKey(id)); err != nil {
			return err
		}
		prefix := studentKey(id)
		history := tx.Bucket([]byte(bucketHistory))
		var doomed [][]byte
		c := history.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			doomed = append(doomed, slices.Clone(k))
		}
		if err := deleteAll(history, doomed); err != nil {
			return err
		}
		// Keys of grades and of changes that name the student: a repeat then finds no student.
		for _, name := range []string{bucketIdempotency, bucketChangeKeys} {
			b := tx.Bucket([]byte(name))
			doomed = doomed[:0]
			if err := b.ForEach(func(k, v []byte) error {
				var rec struct {
					StudentID int `json:"studentId"`
				}
				if err := json.Unmarshal(v, &rec); err != nil {
					return fmt.Errorf("corrupt idempotency record: %w", err)
				}
				if rec.StudentID == id {
					doomed = append(doomed, slices.Clone(k))
				}
				return nil
			}); err != nil {
				return err
			}
			if err := deleteAll(b, doomed); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if domainError(err) {
			return err
		}
		return storeError(fmt.Sprintf("remove student %d", id), err)
	}
	return nil
}

func deleteAll(b *bolt.Bucket, keys [][]byte) error {
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
