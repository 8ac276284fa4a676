package pb_test

import (
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/pb"
)

// A student survives the trip to its message, over the wire and back, grades with and without
// their time of entry alike.
func TestStudentRoundTrip(t *testing.T) {
	avg := 88.5
	at := time.Date(2026, 11, 30, 7, 58, 1, 234000000, time.UTC)
	for _, st := range []grading.Student{
		{ID: 1, FirstName: "Averill", LastName: "Simen", Grades: []grading.Grade{}},
		{ID: 2, FirstName: "Zoë", LastName: "Ng", Average: &avg, Grades: []grading.Grade{
			{Title: "Quiz 1", Type: grading.TypeQuiz, Score: 85},
			{ID: 7, Version: 2, Title: "Test 1", Type: grading.TypeTest, Score: 92, EnteredBy: "ann", EnteredAt: at},
			{Title: "Week 1", Type: grading.TypeHomework, Score: 88.5, EnteredBy: "bo", EnteredAt: at.Add(time.Hour)},
		}},
	} {
		wire, err := proto.Marshal(pb.FromStudent(st))
		if err != nil {
			t.Fatal(err)
		}
		var msg pb.Student
		if err := proto.Unmarshal(wire, &msg); err != nil {
			t.Fatal(err)
		}
		if got := pb.ToStudent(&msg); !reflect.DeepEqual(got, st) {
			t.Errorf("student %d came back as\n%+v\nwant\n%+v", st.ID, got, st)
		}
		msgs := pb.FromStudent(st).GetGrades()
		for i, g := range st.Grades {
			if !proto.Equal(msgs[i], pb.FromGrade(g)) {
				t.Errorf("grade %q: FromStudent made %v, FromGrade %v", g.Title, msgs[i], pb.FromGrade(g))
			}
			if got := pb.ToGrade(pb.FromGrade(g)); !reflect.DeepEqual(got, g) {
				t.Errorf("grade %q came back as %+v", g.Title, got)
			}
		}
	}
}
