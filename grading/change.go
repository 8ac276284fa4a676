package grading

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/text"
)

// Errors of corrections, removals and student changes, each of an errs kind like the others.
// ErrVersionMismatch is a conflict to logs and metrics, but every transport answers it as a
// failed precondition (HTTP 412, gRPC FAILED_PRECONDITION), since the caller's If-Match decided it.
var (
	ErrGradeNotFound    error = errs.New(errs.ErrNotFound, "no such grade")
	ErrVersionMismatch  error = errs.New(errs.ErrConflict, "the grade was changed since the version given (If-Match); read it again for its current version and retry")
	ErrStudentHasGrades error = errs.New(errs.ErrConflict, "the student still has grades: remove them first, or remove the student with force")
)

// Actions a GradeEvent records.
const (
	ActionCorrected = "corrected"
	ActionRemoved   = "removed"
)

// GradeChange is a correction of a grade: the fields it names (non-nil) replace the grade's, the
// others stay. ChangedBy names who makes it, as Grade.EnteredBy names who entered a grade: the
// caller names them, and grading trusts its callers.
type GradeChange struct {
	Title     *string  `json:"title,omitempty"`
	Type      *string  `json:"type,omitempty"`
	Score     *float64 `json:"score,omitempty"`
	ChangedBy string   `json:"changedBy,omitempty"`
}

// Valid reports what is wrong with c by JSON field name, with the rules of a new grade: a change
// must name at least one of title, type and score, and each one it names must be valid.
func (c GradeChange) Valid(ctx context.Context) map[string]string {
	problems := map[string]string{}
	if c.Title == nil && c.Type == nil && c.Score == nil {
		problems["change"] = "must name at least one of title, type and score"
	}
	// A valid grade with the named fields in place: only those can be wrong.
	all := c.Apply(Grade{Title: "x", Type: TypeQuiz, EnteredBy: c.ChangedBy}).Valid(ctx)
	for _, field := range []string{"title", "type", "score"} {
		if p, ok := all[field]; ok {
			problems[field] = p
		}
	}
	if p, ok := all["enteredBy"]; ok {
		problems["changedBy"] = p
	}
	return problems
}

// Apply returns g with the fields c names replaced, the title trimmed and -0 made 0.
func (c GradeChange) Apply(g Grade) Grade {
	if c.Title != nil {
		g.Title = *c.Title
	}
	if c.Type != nil {
		g.Type = *c.Type
	}
	if c.Score != nil {
		g.Score = *c.Score
	}
	return g.Normalized()
}

// normalized is c as it is applied and remembered under an Idempotency-Key.
func (c GradeChange) normalized() GradeChange {
	if c.Title != nil {
		t := strings.TrimSpace(*c.Title)
		c.Title = &t
	}
	if c.Score != nil && *c.Score == 0 {
		z := 0.0
		c.Score = &z
	}
	return c
}

// GradeWrite is what a Store applies to one grade: a correction (Change) or a removal (Remove),
// by By at At, if the grade is still at IfVersion (when set), remembered under IdempotencyKey
// (when set).
type GradeWrite struct {
	Remove         bool
	Change         GradeChange
	By             string
	At             time.Time
	IfVersion      *int
	IdempotencyKey string
}

// Fingerprint says what request w is, whenever it comes: two writes under one Idempotency-Key
// are the same request when their fingerprints are equal. Stores keep it beside the key.
func (w GradeWrite) Fingerprint(studentID, gradeID int) string {
	b, _ := json.Marshal(struct {
		Student   int         `json:"student"`
		Grade     int         `json:"grade"`
		Remove    bool        `json:"remove,omitempty"`
		Change    GradeChange `json:"change"`
		By        string      `json:"by"`
		IfVersion *int        `json:"ifVersion,omitempty"`
	}{studentID, gradeID, w.Remove, w.Change, w.By, w.IfVersion})
	return string(b)
}

// Event is the history entry that w makes of a grade that was old and becomes new (nil for a
// removal).
func (w GradeWrite) Event(studentID int, old Grade, new *Grade) GradeEvent {
	e := GradeEvent{StudentID: studentID, GradeID: old.ID, Version: old.Version + 1, Action: ActionCorrected, By: w.By, At: w.At, Old: old, New: new}
	if w.Remove {
		e.Action = ActionRemoved
	}
	return e
}

// GradeEvent is one entry of a student's history: a correction or a removal of one of their
// grades, by whom and when, with the grade before and (for a correction) after. Version is the
// version the change made: a removal, too, counts as a change of the version it found.
type GradeEvent struct {
	StudentID int       `json:"studentId"`
	GradeID   int       `json:"gradeId"`
	Version   int       `json:"version"`
	Action    string    `json:"action"`
	By        string    `json:"by"`
	At        time.Time `json:"at"`
	Old       Grade     `json:"old"`
	New       *Grade    `json:"new,omitempty"`
}

// ETag is the entity tag of version: the number in quotes, as an ETag or If-Match header carries it.
func ETag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// ParseIfMatch reads an If-Match header: empty is no precondition (nil), and so is "*", which any
// existing grade matches; otherwise one strong entity tag holding a version, such as "3".
func ParseIfMatch(h string) (*int, error) {
	h = strings.TrimSpace(h)
	if h == "" || h == "*" {
		return nil, nil
	}
	if len(h) >= 2 && h[0] == '"' && h[len(h)-1] == '"' {
		if v, ok := ParseStudentID(h[1 : len(h)-1]); ok {
			return &v, nil
		}
	}
	return nil, errs.New(errs.ErrInvalid, fmt.Sprintf(`If-Match must be a grade's version in quotes, such as "3" (its ETag), or *; not %q`, text.Clip(h, 40)))
}

// ParseGradeID reads a grade ID as it appears in a path, as ParseStudentID reads a student's.
func ParseGradeID(s string) (int, bool) { return ParseStudentID(s) }

// findGrade answers the grade of st with ID id, or ErrGradeNotFound.
func findGrade(st Student, id int) (Grade, error) {
	for _, g := range st.Grades {
		if g.ID == id {
			return g, nil
		}
	}
	return Grade{}, ErrGradeNotFound
}

func (s *gradingService) GetGrade(ctx context.Context, studentID, gradeID int) (Grade, error) {
	st, err := s.GetStudent(ctx, studentID)
	if err != nil {
		return Grade{}, err
	}
	return findGrade(st, gradeID)
}

func (s *gradingService) UpdateGrade(ctx context.Context, studentID, gradeID int, change GradeChange, ifVersion *int, idempotencyKey string) (Grade, error) {
	problems := change.Valid(ctx)
	validIdempotencyKey(problems, idempotencyKey)
	if err := errs.Fields(problems); err != nil {
		return Grade{}, err
	}
	if studentID <= 0 {
		return Grade{}, ErrStudentNotFound
	}
	if gradeID <= 0 {
		return Grade{}, ErrGradeNotFound
	}
	return s.store.ChangeGrade(ctx, studentID, gradeID, GradeWrite{
		Change: change.normalized(), By: change.ChangedBy, At: s.now().UTC().Truncate(time.Microsecond),
		IfVersion: ifVersion, IdempotencyKey: idempotencyKey,
	})
}

func (s *gradingService) RemoveGrade(ctx context.Context, studentID, gradeID int, by string, ifVersion *int, idempotencyKey string) error {
	problems := map[string]string{}
	if p := (Grade{EnteredBy: by}).Valid(ctx)["enteredBy"]; p != "" {
		problems["changedBy"] = p
	}
	validIdempotencyKey(problems, idempotencyKey)
	if err := errs.Fields(problems); err != nil {
		return err
	}
	if studentID <= 0 {
		return ErrStudentNotFound
	}
	if gradeID <= 0 {
		return ErrGradeNotFound
	}
	_, err := s.store.ChangeGrade(ctx, studentID, gradeID, GradeWrite{
		Remove: true, By: by, At: s.now().UTC().Truncate(time.Microsecond),
		IfVersion: ifVersion, IdempotencyKey: idempotencyKey,
	})
	return err
}

func (s *gradingService) GradeHistory(ctx context.Context, studentID int) ([]GradeEvent, error) {
	if studentID <= 0 {
		return nil, ErrStudentNotFound
	}
	events, err := s.store.GradeHistory(ctx, studentID)
	if err != nil {
		return nil, err
	}
	if events == nil {
		events = []GradeEvent{}
	}
	return events, nil
}

func (s *gradingService) RenameStudent(ctx context.Context, id int, firstName, lastName string) (Student, error) {
	if err := errs.Fields(validName(firstName, lastName)); err != nil {
		return Student{}, err
	}
	if id <= 0 {
		return Student{}, ErrStudentNotFound
	}
	st, err := s.store.RenameStudent(ctx, id, strings.TrimSpace(firstName), strings.TrimSpace(lastName))
	if err != nil {
		return Student{}, err
	}
	return withAverage(st), nil
}

func (s *gradingService) RemoveStudent(ctx context.Context, id int, force bool) error {
	if id <= 0 {
		return ErrStudentNotFound
	}
	return s.store.RemoveStudent(ctx, id, force)
}
