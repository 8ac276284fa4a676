package pb

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/gradebook/gradebook/grading"
)

// This file is written by hand: the conversions between the generated messages and grading's
// domain types, which the gRPC server (grading/grpcserver) and client (grading/gradingclient) share.

// FromStudent converts a domain student to its message.
func FromStudent(st grading.Student) *Student {
	out := &Student{
		Id:        int64(st.ID),
		FirstName: st.FirstName,
		LastName:  st.LastName,
		Grades:    make([]*Grade, len(st.Grades)),
		Average:   st.Average,
	}
	for i, g := range st.Grades {
		out.Grades[i] = FromGrade(g)
	}
	return out
}

// FromGrade converts a domain grade to its message.
func FromGrade(g grading.Grade) *Grade {
	out := &Grade{Id: int64(g.ID), Version: int64(g.Version), Title: g.Title, Type: g.Type, Score: g.Score, EnteredBy: g.EnteredBy}
	if !g.EnteredAt.IsZero() {
		out.EnteredAt = timestamppb.New(g.EnteredAt)
	}
	return out
}

// ToStudent converts a message to a domain student. A nil message is the zero student.
func ToStudent(st *Student) grading.Student {
	out := grading.Student{
		ID:        ToID(st.GetId()),
		FirstName: st.GetFirstName(),
		LastName:  st.GetLastName(),
		Grades:    make([]grading.Grade, len(st.GetGrades())),
	}
	if st.Average != nil {
		avg := st.GetAverage()
		out.Average = &avg
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
