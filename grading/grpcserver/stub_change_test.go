package grpcserver_test

import (
	"context"

	"github.com/gradebook/gradebook/grading"
)

func (s *stubService) GetGrade(ctx context.Context, _, gradeID int) (grading.Grade, error) {
	return grading.Grade{ID: gradeID, Version: 1, Title: "Quiz", Type: grading.TypeQuiz}, s.answer(ctx)
}

func (s *stubService) UpdateGrade(ctx context.Context, _, gradeID int, c grading.GradeChange, _ *int, _ string) (grading.Grade, error) {
	return c.Apply(grading.Grade{ID: gradeID, Version: 2, Title: "Quiz", Type: grading.TypeQuiz}), s.answer(ctx)
}

func (s *stubService) RemoveGrade(ctx context.Context, _, _ int, _ string, _ *int, _ string) error {
	return s.answer(ctx)
}

func (s *stubService) GradeHistory(ctx context.Context, _ int) ([]grading.GradeEvent, error) {
	return []grading.GradeEvent{}, s.answer(ctx)
}

func (s *stubService) RenameStudent(ctx context.Context, id int, first, last string) (grading.Student, error) {
	return grading.Student{ID: id, FirstName: first, LastName: last, Grades: []grading.Grade{}}, s.answer(ctx)
}

func (s *stubService) RemoveStudent(ctx context.Context, _ int, _ bool) error {
	return s.answer(ctx)
}
