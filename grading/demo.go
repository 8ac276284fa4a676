package grading

import "context"

// DemoStudents are the teaching version's five students, each with the same three pieces of
// work, so that a new user sees a populated grade book on the first run.
func DemoStudents() []Student {
	mk := func(first, last string, q1, hw, q2 float64) Student {
		return Student{FirstName: first, LastName: last, Grades: []Grade{
			{Title: "Quiz 1", Type: TypeQuiz, Score: q1},
			{Title: "Week 1 Homework", Type: TypeHomework, Score: hw},
			{Title: "Quiz 2", Type: TypeQuiz, Score: q2},
		}}
	}
	return []Student{
		mk("Averill", "Simen", 85, 94, 82),
		mk("Marge", "Garrard", 100, 100, 96),
		mk("Sydnie", "Barber", 88, 93, 86),
		mk("Louie", "Easton", 76, 84, 91),
		mk("Kylee", "Attwood", 92, 87, 95),
	}
}

// SeedDemo adds the demo students to store if, and only if, it holds no students, and returns
// how many it added. A store a user has written to is never touched. The students and their
// grades go in one atomic write, so that the store holds either all of them or none: a start
// that crashed partway through seeding leaves an empty store, which the next start seeds.
func SeedDemo(ctx context.Context, store Store) (int, error) {
	return store.SeedIfEmpty(ctx, DemoStudents())
}
