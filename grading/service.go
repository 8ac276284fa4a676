package grading

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/idempotency"
	"github.com/gradebook/gradebook/pkg/text"
)

// Grade types a grade may have.
const (
	TypeTest     = "Test"
	TypeHomework = "Homework"
	TypeQuiz     = "Quiz"
)

// Limits of the validation rules: title, firstName and lastName are required, trimmed, valid
// UTF-8 without control characters and at most MaxNameLen characters; a score is a finite number from MinScore to MaxScore;
// a grade's type is TypeTest, TypeHomework or TypeQuiz.
const (
	MaxNameLen = 100 // characters of title, firstName and lastName, after trimming
	MinScore   = 0.0
	MaxScore   = 100.0
)

// Grade is one scored piece of work. Its JSON keys are lower camel case; the original course's
// portal sends "Title", "Type" and "Score", which Go's case-insensitive decoding also accepts.
//
// EnteredBy and EnteredAt say who recorded the grade and when; grades recorded before they
// existed have neither. Grading sets EnteredAt from its own clock, whatever a client sends, and
// stores EnteredBy as its caller gives it: grading trusts its callers (which hold -token when
// one is set), and the portal names the signed-in teacher, or "api" for its bearer token.
//
// ID names the grade within its store (no two grades share one, whichever their students), and
// Version counts its changes: 1 when entered, one more with each correction. Both are handed out
// by the store; whatever a client sends for them in a new grade is ignored.
type Grade struct {
	ID        int       `json:"id,omitempty"`
	Version   int       `json:"version,omitempty"`
	Title     string    `json:"title"`
	Type      string    `json:"type"`
	Score     float64   `json:"score"`
	EnteredBy string    `json:"enteredBy,omitempty"`
	EnteredAt time.Time `json:"enteredAt,omitzero"`
}

// Student is a student with their grades. Average is computed on read and is nil when there are
// no grades, so that no caller ever sees NaN.
type Student struct {
	ID        int      `json:"id"`
	FirstName string   `json:"firstName"`
	LastName  string   `json:"lastName"`
	Grades    []Grade  `json:"grades"`
	Average   *float64 `json:"average,omitempty"`
}

// Service is the grading service. Every transport's client implements it too, so a caller
// cannot tell a local service from a remote one: the same domain errors come back either way.
type Service interface {
	ListStudents(ctx context.Context) ([]Student, error)
	GetStudent(ctx context.Context, id int) (Student, error)
	AddStudent(ctx context.Context, firstName, lastName string) (Student, error)
	// AddGrade records g for the student. A non-empty idempotencyKey makes a repeat of the same
	// grade return the first answer without adding a second grade; reusing the key for a
	// different grade or student is ErrIdempotencyConflict.
	AddGrade(ctx context.Context, studentID int, g Grade, idempotencyKey string) (Grade, error)

	// GetGrade answers one grade of a student: ErrStudentNotFound or ErrGradeNotFound when
	// either is unknown (a grade of another student is unknown here).
	GetGrade(ctx context.Context, studentID, gradeID int) (Grade, error)
	// UpdateGrade corrects a grade: the fields change names replace the grade's, its version goes
	// up by one, and the history records who, when, and the grade before and after. With
	// ifVersion set, a grade no longer at that version is ErrVersionMismatch and left alone.
	// idempotencyKey works as for AddGrade: a repeat of the same request answers the first result.
	UpdateGrade(ctx context.Context, studentID, gradeID int, change GradeChange, ifVersion *int, idempotencyKey string) (Grade, error)
	// RemoveGrade removes a grade (it leaves the average), recording the removal, by by, in the
	// history. ifVersion and idempotencyKey work as for UpdateGrade.
	RemoveGrade(ctx context.Context, studentID, gradeID int, by string, ifVersion *int, idempotencyKey string) error
	// GradeHistory answers the corrections and removals of a student's grades, oldest first.
	GradeHistory(ctx context.Context, studentID int) ([]GradeEvent, error)
	// RenameStudent gives a student new names, validated as AddStudent's.
	RenameStudent(ctx context.Context, id int, firstName, lastName string) (Student, error)
	// RemoveStudent removes a student with their grades and history. Without force, a student
	// who still has grades is ErrStudentHasGrades and stays.
	RemoveStudent(ctx context.Context, id int, force bool) error
}

// Domain errors, each of an errs kind that decides how every transport answers it. Validation
// failures are errs.FieldErrors naming the fields title, type, score, firstName, lastName and
// idempotencyKey; they wrap errs.ErrInvalid.
var (
	ErrStudentNotFound     error = errs.New(errs.ErrNotFound, "no such student")
	ErrIdempotencyConflict error = errs.New(errs.ErrConflict, "this Idempotency-Key was already used for a different grade")
)

// MaxEnteredByLen bounds a grade's EnteredBy, in bytes.
const MaxEnteredByLen = 64

// SameEntry reports whether g and h record the same grade by the same person, whenever each was
// entered: a repeat of a request under its Idempotency-Key is the same entry.
func (g Grade) SameEntry(h Grade) bool {
	return g.Title == h.Title && g.Type == h.Type && g.Score == h.Score && g.EnteredBy == h.EnteredBy
}

// Normalized returns g as it is stored: its title trimmed, and a score of -0 made 0, so that no
// page ever shows "-0" (the two are equal as numbers, and a store keeps whichever it is given).
func (g Grade) Normalized() Grade {
	g.Title = strings.TrimSpace(g.Title)
	if g.Score == 0 {
		g.Score = 0 // turns -0 into +0
	}
	return g
}

// Valid reports what is wrong with g, by JSON field name; an empty map means g is valid.
func (g Grade) Valid(context.Context) map[string]string {
	problems := map[string]string{}
	checkText(problems, "title", g.Title)
	switch g.Type {
	case TypeTest, TypeHomework, TypeQuiz:
	case "":
		problems["type"] = "is required: one of Test, Homework, Quiz"
	default:
		if problem := text.Problem(g.Type); problem != "" {
			problems["type"] = problem
			break
		}
		problems["type"] = fmt.Sprintf("must be one of Test, Homework, Quiz, not %q", text.Clip(g.Type, 40))
	}
	switch {
	case math.IsNaN(g.Score) || math.IsInf(g.Score, 0):
		problems["score"] = "must be a finite number"
	case g.Score < MinScore || g.Score > MaxScore:
		problems["score"] = fmt.Sprintf("must be from 0 to 100, not %g", g.Score)
	}
	switch {
	case len(g.EnteredBy) > MaxEnteredByLen:
		problems["enteredBy"] = fmt.Sprintf("must be at most %d bytes, not %d", MaxEnteredByLen, len(g.EnteredBy))
	default:
		if problem := text.Problem(g.EnteredBy); problem != "" {
			problems["enteredBy"] = problem
		}
	}
	return problems
}

// validName reports what is wrong with a student's names.
func validName(firstName, lastName string) map[string]string {
	problems := map[string]string{}
	checkText(problems, "firstName", firstName)
	checkText(problems, "lastName", lastName)
	return problems
}

func validIdempotencyKey(problems map[string]string, key string) {
	if problem := idempotency.Check(key); problem != "" {
		problems["idempotencyKey"] = problem
	}
}

func checkText(problems map[string]string, field, s string) {
	s = strings.TrimSpace(s)
	if problem := text.Problem(s); problem != "" {
		problems[field] = problem
		return
	}
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		problems[field] = "is required"
	case n > MaxNameLen:
		problems[field] = fmt.Sprintf("must be at most %d characters, not %d", MaxNameLen, n)
	}
}

// NewService returns the grading service over store. It validates input, keeps names and
// titles trimmed, and computes averages on read.
func NewService(store Store) Service { return &gradingService{store: store, now: time.Now} }

type gradingService struct {
	store Store
	now   func() time.Time
}

func (s *gradingService) ListStudents(ctx context.Context) ([]Student, error) {
	students, err := s.store.ListStudents(ctx)
	if err != nil {
		return nil, err
	}
	for i := range students {
		students[i] = withAverage(students[i])
	}
	return students, nil
}

func (s *gradingService) GetStudent(ctx context.Context, id int) (Student, error) {
	if id <= 0 {
		return Student{}, ErrStudentNotFound
	}
	st, err := s.store.GetStudent(ctx, id)
	if err != nil {
		return Student{}, err
	}
	return withAverage(st), nil
}

func (s *gradingService) AddStudent(ctx context.Context, firstName, lastName string) (Student, error) {
	if err := errs.Fields(validName(firstName, lastName)); err != nil {
		return Student{}, err
	}
	st, err := s.store.CreateStudent(ctx, strings.TrimSpace(firstName), strings.TrimSpace(lastName))
	if err != nil {
		return Student{}, err
	}
	return withAverage(st), nil
}

func (s *gradingService) AddGrade(ctx context.Context, studentID int, g Grade, idempotencyKey string) (Grade, error) {
	problems := g.Valid(ctx)
	validIdempotencyKey(problems, idempotencyKey)
	if err := errs.Fields(problems); err != nil {
		return Grade{}, err
	}
	if studentID <= 0 {
		return Grade{}, ErrStudentNotFound
	}
	g = g.Normalized()
	g.ID, g.Version = 0, 0 // the store's to hand out
	// Microseconds, in UTC: what every store keeps, so a grade reads back as it was answered.
	g.EnteredAt = s.now().UTC().Truncate(time.Microsecond)
	return s.store.AddGrade(ctx, studentID, g, idempotencyKey)
}

// withAverage fills in Average (nil for no grades) and makes Grades a non-nil slice, so that
// JSON shows [] rather than null.
func withAverage(st Student) Student {
	if st.Grades == nil {
		st.Grades = []Grade{}
	}
	st.Average = Average(st.Grades)
	return st
}

// Average is the mean score of grades, or nil when there are none.
func Average(grades []Grade) *float64 {
	if len(grades) == 0 {
		return nil
	}
	var sum float64
	for _, g := range grades {
		sum += g.Score
	}
	avg := sum / float64(len(grades))
	return &avg
}
