package pb

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gradebook/gradebook/grading"
)

// FromGradeChange converts a domain change to its message.
func FromGradeChange(c grading.GradeChange) *GradeChange {
	return &GradeChange{Title: c.Title, Type: c.Type, Score: c.Score, ChangedBy: c.ChangedBy}
}

// ToGradeChange converts a message to a domain change. A nil message names no field, which the
// service refuses.
func ToGradeChange(c *GradeChange) grading.GradeChange {
	if c == nil {
		return grading.GradeChange{}
	}
	return grading.GradeChange{Title: c.Title, Type: c.Type, Score: c.Score, ChangedBy: c.GetChangedBy()}
}

// FromVersion converts an optional version (If-Match) to its field.
func FromVersion(v *int) *int64 {
	if v == nil {
		return nil
	}
	n := int64(*v)
	return &n
}

// ToVersion converts an optional version field. A version that does not fit an int is 0,
// which no grade has, so it fails the precondition like any other stale one.
func ToVersion(v *int64) *int {
	if v == nil {
		return nil
	}
	n := ToID(*v)
	return &n
}

// FromGradeEvent converts a history entry to its message.
func FromGradeEvent(e grading.GradeEvent) *GradeEvent {
	out := &GradeEvent{
		StudentId: int64(e.StudentID), GradeId: int64(e.GradeID), Version: int64(e.Version),
		Action: e.Action, By: e.By, Old: FromGrade(e.Old),
	}
	if !e.At.IsZero() {
		out.At = timestamppb.New(e.At)
	}
	if e.New != nil {
		out.New = FromGrade(*e.New)
	}
	return out
}

// ToGradeEvent converts a message to a history entry.
func ToGradeEvent(e *GradeEvent) grading.GradeEvent {
	out := grading.GradeEvent{
		StudentID: ToID(e.GetStudentId()), GradeID: ToID(e.GetGradeId()), Version: ToID(e.GetVersion()),
		Action: e.GetAction(), By: e.GetBy(), Old: ToGrade(e.GetOld()),
	}
	if at := e.GetAt(); at != nil && at.IsValid() {
		out.At = at.AsTime().UTC()
	}
	if e.GetNew() != nil {
		g := ToGrade(e.GetNew())
		out.New = &g
	}
	return out
}
