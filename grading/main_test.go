package grading

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/gradebook/gradebook/internal/testkit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, testkit.LeakOptions()...)
}

// newBoltStore opens a store in a fresh temp dir and closes it when the test ends.
func newBoltStore(t testing.TB) *BoltStore {
	t.Helper()
	s, err := OpenBoltStore(filepath.Join(t.TempDir(), StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// memStore is an in-memory Store for tests that exercise the layers above the store (fuzzing,
// handler tables) without an fsync per case. It follows the Store contract.
type memStore struct {
	mu       sync.Mutex
	students []Student
	keys     map[string]idempotencyRecord
}

func (m *memStore) ListStudents(context.Context) ([]Student, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Student, len(m.students))
	for i, st := range m.students {
		st.Grades = append([]Grade(nil), st.Grades...)
		out[i] = st
	}
	return out, nil
}

func (m *memStore) GetStudent(_ context.Context, id int) (Student, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id <= 0 || id > len(m.students) {
		return Student{}, ErrStudentNotFound
	}
	st := m.students[id-1]
	st.Grades = append([]Grade(nil), st.Grades...)
	return st, nil
}

func (m *memStore) CreateStudent(_ context.Context, first, last string) (Student, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := Student{ID: len(m.students) + 1, FirstName: first, LastName: last, Grades: []Grade{}}
	m.students = append(m.students, st)
	return st, nil
}

func (m *memStore) AddGrade(_ context.Context, id int, g Grade, key string) (Grade, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if rec, ok := m.keys[key]; ok && key != "" {
		if rec.StudentID != id || rec.Grade != g {
			return Grade{}, ErrIdempotencyConflict
		}
		return rec.Grade, nil
	}
	if id <= 0 || id > len(m.students) {
		return Grade{}, ErrStudentNotFound
	}
	m.students[id-1].Grades = append(m.students[id-1].Grades, g)
	if key != "" {
		if m.keys == nil {
			m.keys = map[string]idempotencyRecord{}
		}
		m.keys[key] = idempotencyRecord{StudentID: id, Grade: g}
	}
	return g, nil
}

func (m *memStore) Close() error { return nil }
