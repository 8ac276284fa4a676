package pb

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gradebook/gradebook/grading"
)

// This file is written by hand: the conversions between the generated messages and grading's
// domain types, which the gRPC server (grading/grpcserver) and client (grading/gradingclient) share.

// FromStudent converts a domain student to its message. The grades' messages, and their
// timestamps, are each made in one allocation for all of them, not one per grade.
func FromStudent(st grading.Student) *Student {
	out := &Student{
		Id:        int64(st.ID),
		FirstName: st.FirstName,
		LastName:  st.LastName,
		Grades:    make([]*Grade, len(st.Grades)),
		Average:   st.Average,
	}
	grades := make([]Grade, len(st.Grades))
	var times []timestamppb.Timestamp
	for i, g := range st.Grades {
		out.Grades[i] = &grades[i]
		setGrade(&grades[i], g)
		if !g.EnteredAt.IsZero() {
			if times == nil {
				times = make([]timestamppb.Timestamp, len(st.Grades))
			}
			setTimestamp(&times[i], g.EnteredAt)
			grades[i].EnteredAt = &times[i]
		}
	}
	return out
}

// FromGrade converts a domain grade to its message.
func FromGrade(g grading.Grade) *Grade {
	out := &Grade{}
	setGrade(out, g)
	if !g.EnteredAt.IsZero() {
		out.EnteredAt = timestamppb.New(g.EnteredAt)
	}
	return out
}

// setGrade fills out, a new message, with g's fields but its time.
func setGrade(out *Grade, g grading.Grade) {
	out.Id, out.Version = int64(g.ID), int64(g.Version)
	out.Title, out.Type, out.Score, out.EnteredBy = g.Title, g.Type, g.Score, g.EnteredBy
}

// setTimestamp fills ts, a new message, as timestamppb.New(t) does.
func setTimestamp(ts *timestamppb.Timestamp, t time.Time) {
	ts.Seconds, ts.Nanos = t.Unix(), int32(t.Nanosecond())
}

// ToStudent converts a message to a domain student. A nil message is the zero student. The
// student's average is the message's own (a pointer shared with st, not a copy).
func ToStudent(st *Student) grading.Student {
	out := grading.Student{
		ID:        ToID(st.GetId()),
		FirstName: st.GetFirstName(),
		LastName:  st.GetLastName(),
		Grades:    make([]grading.Grade, len(st.GetGrades())),
	}
	if st != nil {
		out.Average = st.Average
	}
	for i, g := range st.GetGrades() {
		out.Grades[i] = ToGrade(g)
	}
	return out
}

// ToGrade converts a message to a domain grade. A nil message is the empty grade, which the
// service rejects field by field like any other invalid grade.
func ToGrade(g *Grade) grading.Grade {
	out := grading.Grade{ID: ToID(g.GetId()), Version: ToID(g.GetVersion()), Title: g.GetTitle(), Type: g.GetType(), Score: g.GetScore(), EnteredBy: g.GetEnteredBy()}
	if at := g.GetEnteredAt(); at != nil && at.IsValid() {
		out.EnteredAt = at.AsTime().UTC()
	}
	return out
}

// ToID maps an id that does not fit an int to 0, which names no student: a NOT_FOUND like any
// other unknown id.
func ToID(id int64) int {
	if int64(int(id)) != id {
		return 0
	}
	return int(id)
}
