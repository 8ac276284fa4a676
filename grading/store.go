package grading

import "context"

// Store keeps students and grades. It is deliberately small, so that each implementation (one
// package each: grading/boltstore, grading/pgstore) slots in under the service without the layers
// above it changing; grading/storetest is the suite every one of them passes.
// Implementations must make every write durable before returning, return ErrStudentNotFound
// for unknown students, hand out increasing student IDs, and record an idempotency key in the
// same atomic write as its grade. A store whose backend cannot be reached answers an error of
// kind errs.ErrUnavailable, which callers may retry elsewhere or later.
type Store interface {
	ListStudents(ctx context.Context) ([]Student, error)
	GetStudent(ctx context.Context, id int) (Student, error)
	CreateStudent(ctx context.Context, firstName, lastName string) (Student, error)
	// AddGrade appends g to the student's grades. With a non-empty key, a repeat of the same
	// student and grade returns the grade first stored and writes nothing; a different student
	// or grade under the same key is ErrIdempotencyConflict.
	// AddGrade gives g a new ID and version 1.
	AddGrade(ctx context.Context, studentID int, g Grade, idempotencyKey string) (Grade, error)
	// ChangeGrade applies w to the student's grade gradeID in one atomic write with its history
	// entry (GradeWrite.Event) and its idempotency key, and answers the grade as w left it (as it
	// was, for a removal). It answers ErrStudentNotFound, ErrGradeNotFound (a removed grade, or
	// one of another student, included), or ErrVersionMismatch when w.IfVersion is set and the
	// grade is at another version. Under a key already used, a write with the same
	// GradeWrite.Fingerprint answers the first answer and writes nothing, and any other write is
	// ErrIdempotencyConflict. Keys of ChangeGrade and of AddGrade are separate: neither sees the other's.
	ChangeGrade(ctx context.Context, studentID, gradeID int, w GradeWrite) (Grade, error)
	// GradeHistory answers the student's history entries in the order they were written.
	GradeHistory(ctx context.Context, studentID int) ([]GradeEvent, error)
	// RenameStudent sets a student's names and answers the student.
	RenameStudent(ctx context.Context, id int, firstName, lastName string) (Student, error)
	// RemoveStudent removes a student, their grades, history and the idempotency keys that name
	// them, in one atomic write; unless force, only if they have no grades (ErrStudentHasGrades).
	RemoveStudent(ctx context.Context, id int, force bool) error
	// SeedIfEmpty adds students, each with their grades, in one atomic write, if and only if
	// the store holds no students; it returns how many it added: all of them, or none. IDs are
	// handed out as by CreateStudent (the students' own IDs are ignored), so that a crash
	// partway through can never leave some of them to block a later seed.
	SeedIfEmpty(ctx context.Context, students []Student) (int, error)
	// ID names the data the store holds. It is made when the store is created (kept in the bbolt
	// file, or in a row of the database) and is the same through every handle on that data, so
	// that instances that share data can be told from instances that do not.
	ID() string
	Close() error
}

// Registration metadata every grading instance carries, so that a consumer balances only across
// instances that serve the same data.
const (
	// StoreIDMeta is the key of the store's ID (Store.ID).
	StoreIDMeta = "store_id"
	// StoreKindMeta is the key of the kind of store: "bolt" or "postgres".
	StoreKindMeta = "store"
)

// Pinger is implemented by stores that can tell whether they can serve; /health uses it.
type Pinger interface {
	Ping(ctx context.Context) error
}
