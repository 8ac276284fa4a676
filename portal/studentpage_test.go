package portal

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/grading"
)

// referenceStudentPage executes the "student" templates, layout and all, the reference
// appendStudentPage must match, over the view render gives them.
func referenceStudentPage(t testing.TB, user string, open bool, pg studentPage) string {
	t.Helper()
	tmpl, err := referenceTemplates()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tmpl["student"].ExecuteTemplate(&buf, "layout", layoutView{Page: pg, User: user, Open: open}); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// checkStudentPage fails t when appendStudentPage's bytes differ from the templates' for the
// view, showing where they part.
func checkStudentPage(t testing.TB, user string, open bool, pg studentPage) {
	t.Helper()
	want := referenceStudentPage(t, user, open, pg)
	got := string(appendStudentPage(nil, user, open, &pg))
	checkSame(t, "appendStudentPage", "the student templates", got, want)
}

// demoStudentPage is the page of the demo's first student as the portal shows it, with the add
// form's type selected.
func demoStudentPage(selected string) studentPage {
	at := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
	st := grading.DemoStudents()[0]
	st.ID = 1
	for i := range st.Grades {
		st.Grades[i].ID, st.Grades[i].Version, st.Grades[i].EnteredBy, st.Grades[i].EnteredAt = i+1, 1, "frizzle", at
	}
	avg := 87.25
	st.Average = &avg
	v := newStudentView(st)
	v.Grades = pageRows(st)
	return studentPage{
		Nav: "students", Student: v, Types: typeOptions(selected),
		Form: gradeForm{Type: selected, Key: "0123456789abcdef"},
	}
}

// TestStudentPageMatchesTemplate: the student's page written in Go is byte for byte what the
// templates write, for every branch of the layout and of the page: signed in or open, each
// Nav, a notice, each problem alone and all together, every type selected or none, no grades,
// one and many, and values full of markup, NUL, invalid UTF-8 and newlines in every field.
func TestStudentPageMatchesTemplate(t *testing.T) {
	type viewCase struct {
		name string
		user string
		open bool
		page func() studentPage
	}
	with := func(change func(*studentPage)) func() studentPage {
		return func() studentPage {
			pg := demoStudentPage(grading.TypeQuiz)
			change(&pg)
			return pg
		}
	}
	plain := with(func(*studentPage) {})
	cases := []viewCase{
		{name: "signed in", user: "frizzle", page: plain},
		{name: "open portal", open: true, page: plain},
		{name: "open and signed in", user: "frizzle", open: true, page: plain},
		{name: "nobody, not open", page: plain},
		{name: "nav status", user: "frizzle", page: with(func(pg *studentPage) { pg.Nav = "status" })},
		{name: "nav none", user: "frizzle", page: with(func(pg *studentPage) { pg.Nav = "" })},
		{name: "nav unknown", user: "frizzle", page: with(func(pg *studentPage) { pg.Nav = "Students" })},
		{name: "notice", user: "frizzle", page: with(func(pg *studentPage) { pg.Notice = "Grade recorded." })},
		{name: "no average", user: "frizzle", page: with(func(pg *studentPage) { pg.Student.Average = formatAverage(nil) })},
		{name: "all problems", user: "frizzle", page: with(func(pg *studentPage) {
			pg.Form = gradeForm{Title: "Quiz <3>", Type: "Exam", Score: "ninety", Key: "k'1"}
			pg.Types = typeOptions(pg.Form.Type)
			pg.Errors = map[string]string{
				"edit": "Someone else changed this grade.", "title": "is too long",
				"type": "must be one of Test, Homework, Quiz", "score": "is required",
				"form": "This form had already been used to record another grade, so nothing was saved.",
			}
		})},
		{name: "problems present but empty", user: "frizzle", page: with(func(pg *studentPage) {
			pg.Errors = map[string]string{"edit": "", "title": "", "type": "", "score": "", "form": ""}
		})},
		{name: "problems unknown to the page", user: "frizzle", page: with(func(pg *studentPage) {
			pg.Errors = map[string]string{"idempotencyKey": "is stale", "firstName": "is required"}
		})},
		{name: "no grades", user: "frizzle", page: with(func(pg *studentPage) { pg.Student.Grades, pg.Student.GradeCount = nil, 0 })},
		{name: "no grades, empty slice", open: true, page: with(func(pg *studentPage) { pg.Student.Grades, pg.Student.GradeCount = []gradeRow{}, 0 })},
		{name: "one grade", user: "frizzle", page: with(func(pg *studentPage) { pg.Student.Grades, pg.Student.GradeCount = pg.Student.Grades[:1], 1 })},
		{name: "count unlike the rows", user: "frizzle", page: with(func(pg *studentPage) { pg.Student.GradeCount = -1 })},
		{name: "a row's edit opened with problems", user: "frizzle", page: with(func(pg *studentPage) {
			g := &pg.Student.Grades[1]
			g.Edit = editForm{Title: "Essay <draft>", Type: "Exam", Score: "", Version: 7, Key: "k", Open: true,
				Errors: map[string]string{"title": "is too long", "score": "is required", "form": "Someone else changed this grade."}}
			g.Types = typeOptions(g.Edit.Type)
		})},
		{name: "extreme IDs", user: "frizzle", page: with(func(pg *studentPage) { pg.Student.ID = math.MinInt })},
		{name: "largest ID", user: "frizzle", page: with(func(pg *studentPage) { pg.Student.ID, pg.Student.GradeCount = math.MaxInt, math.MaxInt })},
		{name: "no types", user: "frizzle", page: with(func(pg *studentPage) { pg.Types = nil })},
	}
	for _, sel := range []string{grading.TypeTest, grading.TypeHomework, grading.TypeQuiz, "", "quiz", "Exam"} {
		cases = append(cases, viewCase{name: "type " + sel + " selected", user: "frizzle", page: with(func(pg *studentPage) {
			pg.Form.Type, pg.Types = sel, typeOptions(sel)
		})})
	}
	for i, s := range hostile {
		cases = append(cases, viewCase{
			name: fmt.Sprintf("value %d %s", i, strings.ToValidUTF8(s[:min(len(s), 24)], "?")), user: s, open: i%2 == 0,
			page: with(func(pg *studentPage) {
				pg.Nav, pg.Notice = s, s
				pg.Student.Name, pg.Student.Average = s, s
				pg.Form = gradeForm{Title: s, Type: s, Score: s, Key: s}
				pg.Types = append(typeOptions(s)[:3:3], typeOption{Name: s, Selected: true})
				pg.Errors = map[string]string{"edit": s, "title": s, "type": s, "score": s, "form": s}
				pg.Student.Grades[0].Title, pg.Student.Grades[0].Edit.Title = s, s
			}),
		})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkStudentPage(t, c.user, c.open, c.page()) })
	}
}

// FuzzStudentPage checks appendStudentPage against the student templates for arbitrary views:
//
//	go test -run '^$' -fuzz FuzzStudentPage -fuzztime 3m ./portal/
func FuzzStudentPage(f *testing.F) {
	for i, s := range hostile {
		f.Add(s, "87.5", "", "frizzle", "students", false, 3, 1, "", "", "", "", "", s, "Quiz", "85", "key-1", uint8(3), s)
		f.Add("Ms Frizzle", s, s, s, s, i%2 == 0, 1, -7, s, s, s, s, s, "Quiz 1", s, s, s, uint8(i), "Quiz 1")
	}
	f.Add("Arnold Perlstein", "—", "Grade recorded.", "", "status", true, 0, 2, "", "is too long", "", "is required", "", "", "", "", "k", uint8(0), "")
	f.Fuzz(func(t *testing.T, name, average, notice, user, nav string, open bool, gradeCount, id int,
		errEdit, errTitle, errType, errScore, errForm, formTitle, formType, formScore, formKey string, grades uint8, gradeTitle string) {
		problems := map[string]string{}
		for k, v := range map[string]string{"edit": errEdit, "title": errTitle, "type": errType, "score": errScore, "form": errForm} {
			if v != "" || len(k)%2 == 0 { // some keys present with an empty problem
				problems[k] = v
			}
		}
		pg := studentPage{
			Nav:     nav,
			Student: studentView{ID: id, Name: name, Average: average, GradeCount: gradeCount},
			Notice:  notice,
			Types:   append(typeOptions(formType)[:3:3], typeOption{Name: formType, Selected: open}),
			Form:    gradeForm{Title: formTitle, Type: formType, Score: formScore, Key: formKey},
			Errors:  problems,
		}
		if grades%4 == 3 {
			pg.Errors, pg.Types = nil, typeOptions(formType)
		}
		for i := range int(grades % 4) {
			pg.Student.Grades = append(pg.Student.Grades, gradeRow{
				Title: gradeTitle, Type: formType, Score: formScore, EnteredBy: user, ID: i + 1, Version: i, StudentID: id,
				Edit:  editForm{Title: gradeTitle, Type: formType, Score: formScore, Key: formKey, Version: i, Open: i == 1, Errors: problems},
				Types: typeOptions(formType),
			})
		}
		checkStudentPage(t, user, open, pg)
	})
}
