package grading

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/gradebook/gradebook/pkg/idempotency"
)

func TestGradeValid(t *testing.T) {
	long := strings.Repeat("é", MaxNameLen)
	tests := []struct {
		name  string
		grade Grade
		bad   []string // the fields reported, in any order
	}{
		{"valid quiz", Grade{Title: "Quiz 1", Type: TypeQuiz, Score: 85}, nil},
		{"valid test at 0", Grade{Title: "Midterm", Type: TypeTest, Score: 0}, nil},
		{"valid homework at 100", Grade{Title: "Week 1 Homework", Type: TypeHomework, Score: 100}, nil},
		{"fractional score", Grade{Title: "Quiz 2", Type: TypeQuiz, Score: 99.5}, nil},
		{"title of 100 characters", Grade{Title: long, Type: TypeQuiz, Score: 50}, nil},
		{"title padded with spaces", Grade{Title: "  Quiz  ", Type: TypeQuiz, Score: 50}, nil},
		{"empty title", Grade{Title: "", Type: TypeQuiz, Score: 50}, []string{"title"}},
		{"blank title", Grade{Title: " \t\n", Type: TypeQuiz, Score: 50}, []string{"title"}},
		{"title of 101 characters", Grade{Title: long + "x", Type: TypeQuiz, Score: 50}, []string{"title"}},
		{"missing type", Grade{Title: "Quiz", Type: "", Score: 50}, []string{"type"}},
		{"unknown type", Grade{Title: "Quiz", Type: "Exam", Score: 50}, []string{"type"}},
		{"type in lower case", Grade{Title: "Quiz", Type: "quiz", Score: 50}, []string{"type"}},
		{"negative score", Grade{Title: "Quiz", Type: TypeQuiz, Score: -0.5}, []string{"score"}},
		{"score above 100", Grade{Title: "Quiz", Type: TypeQuiz, Score: 100.01}, []string{"score"}},
		{"NaN score", Grade{Title: "Quiz", Type: TypeQuiz, Score: math.NaN()}, []string{"score"}},
		{"infinite score", Grade{Title: "Quiz", Type: TypeQuiz, Score: math.Inf(1)}, []string{"score"}},
		{"everything wrong", Grade{Title: "", Type: "x", Score: 101}, []string{"title", "type", "score"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.grade.Valid(context.Background())
			if len(got) != len(tt.bad) {
				t.Fatalf("Valid() = %v, want problems with %v", got, tt.bad)
			}
			for _, f := range tt.bad {
				if got[f] == "" {
					t.Errorf("Valid() = %v, want a problem with %q", got, f)
				}
			}
		})
	}
}

func TestAddStudentRequestValid(t *testing.T) {
	tests := []struct {
		first, last string
		bad         []string
	}{
		{"Averill", "Simen", nil},
		{" Ann ", "Lee", nil},
		{"", "Simen", []string{"firstName"}},
		{"Averill", "   ", []string{"lastName"}},
		{strings.Repeat("a", 101), "", []string{"firstName", "lastName"}},
		{"<script>alert(1)</script>", "O'Brien", nil},
	}
	for _, tt := range tests {
		got := AddStudentRequest{FirstName: tt.first, LastName: tt.last}.Valid(context.Background())
		if len(got) != len(tt.bad) {
			t.Errorf("Valid(%q, %q) = %v, want problems with %v", tt.first, tt.last, got, tt.bad)
		}
		for _, f := range tt.bad {
			if got[f] == "" {
				t.Errorf("Valid(%q, %q) = %v, want a problem with %q", tt.first, tt.last, got, f)
			}
		}
	}
}

func TestAddGradeRequestValidChecksKeyLength(t *testing.T) {
	req := AddGradeRequest{StudentID: 1, Grade: Grade{Title: "Quiz", Type: TypeQuiz, Score: 1}, IdempotencyKey: strings.Repeat("k", idempotency.MaxKeyLen+1)}
	if got := req.Valid(context.Background()); got["idempotencyKey"] == "" {
		t.Errorf("Valid() = %v, want a problem with idempotencyKey", got)
	}
}

func TestAverage(t *testing.T) {
	if got := Average(nil); got != nil {
		t.Errorf("Average(nil) = %v, want nil (no average, never NaN)", *got)
	}
	got := Average([]Grade{{Score: 85}, {Score: 94}, {Score: 82}})
	if got == nil || math.Abs(*got-87) > 1e-9 {
		t.Errorf("Average(85, 94, 82) = %v, want 87", got)
	}
}

func TestStudentJSONShape(t *testing.T) {
	avg := 89.0
	b, err := json.Marshal(Student{ID: 1, FirstName: "Averill", LastName: "Simen",
		Grades: []Grade{{Title: "Quiz 1", Type: TypeQuiz, Score: 89}}, Average: &avg})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":1,"firstName":"Averill","lastName":"Simen","grades":[{"title":"Quiz 1","type":"Quiz","score":89}],"average":89}`
	if string(b) != want {
		t.Errorf("JSON = %s\nwant   %s", b, want)
	}
	// No grades: an empty list and no average at all.
	st := withAverage(Student{ID: 2, FirstName: "Marge", LastName: "Garrard"})
	b, _ = json.Marshal(st)
	if want := `{"id":2,"firstName":"Marge","lastName":"Garrard","grades":[]}`; string(b) != want {
		t.Errorf("JSON = %s\nwant   %s", b, want)
	}
}
