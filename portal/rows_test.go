package portal

import (
	"bytes"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gradebook/gradebook/grading"
)

// referenceTemplates are the pages' templates, parsed once for all the comparisons.
var referenceTemplates = sync.OnceValues(parseTemplates)

// referenceRows executes the "grade-row" template, the reference appendGradeRows must match, for
// each row in turn, as the page's range over the rows did.
func referenceRows(t testing.TB, rows []gradeRow) string {
	t.Helper()
	tmpl, err := referenceTemplates()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for i := range rows {
		if err := tmpl["student"].ExecuteTemplate(&buf, "grade-row", rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	return buf.String()
}

// checkRows fails t when appendGradeRows's bytes differ from the template's for rows, showing
// where they part.
func checkRows(t testing.TB, rows []gradeRow) {
	t.Helper()
	checkSame(t, "appendGradeRows", "the grade-row template", string(appendGradeRows(nil, rows)), referenceRows(t, rows))
}

// checkSame fails t when got, written by writer, differs from want, written by reference,
// showing where they part.
func checkSame(t testing.TB, writer, reference, got, want string) {
	t.Helper()
	if got == want {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(i-80, 0)
	t.Fatalf("%s differs from %s at byte %d (lengths %d and %d):\n got: %q\nwant: %q",
		writer, reference, i, len(got), len(want), got[from:min(i+80, len(got))], want[from:min(i+80, len(want))])
}

// pageRows makes the rows of st as the student's page does.
func pageRows(st grading.Student) []gradeRow {
	v := newStudentView(st)
	for i := range v.Grades {
		v.Grades[i].Types, v.Grades[i].StudentID = typeOptions(v.Grades[i].Edit.Type), st.ID
	}
	return v.Grades
}

// hostile are values that html/template must escape or pass through with care.
var hostile = []string{
	"",
	`<>&'"+`,
	`"><script>alert(1)</script>`,
	"a\x00b", "\x00",
	"\xff\xfe invalid", "trunc\xe2\x82", "\xc0\xaf", // invalid UTF-8
	"\uFFFD replacement", "\uFDD0\uFFFE\uFFFF noncharacters", "é ü 漢字 😀",
	"&amp; &#34; already escaped", "javascript:alert(1)", "a\tb\nc\r\n",
	strings.Repeat(`<a href="x">&'+`, 10000),
}

// TestGradeRowsMatchTemplate: the rows the student's page shows, written in Go, are byte for
// byte what the "grade-row" template writes, for the demo student, for forms opened with
// problems, and for values full of markup, NUL and invalid UTF-8.
func TestGradeRowsMatchTemplate(t *testing.T) {
	at := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
	st := grading.DemoStudents()[0]
	st.ID = 1
	for i := range st.Grades {
		st.Grades[i].ID, st.Grades[i].Version, st.Grades[i].EnteredBy, st.Grades[i].EnteredAt = i+1, 1, "frizzle", at
	}
	t.Run("demo student", func(t *testing.T) { checkRows(t, pageRows(st)) })
	t.Run("no grades", func(t *testing.T) { checkRows(t, nil) })

	t.Run("edit form with problems", func(t *testing.T) {
		rows := pageRows(st)
		rows[1].Edit = editForm{
			Title: "Essay <draft>", Type: "Exam", Score: "ninety", Version: 7, Key: "k'1", Open: true,
			Errors: map[string]string{"title": "is too long", "type": "must be one of Test, Homework, Quiz",
				"score": "must be a number from 0 to 100", "form": "Someone else changed this grade: \"Quiz 1\" (Quiz, 91)."},
		}
		rows[1].Types = typeOptions(rows[1].Edit.Type)
		rows[2].Edit.Errors = map[string]string{"title": "", "form": ""} // present but empty: shown as none
		checkRows(t, rows)
	})

	for _, s := range hostile {
		t.Run("value "+strings.ToValidUTF8(s[:min(len(s), 24)], "?"), func(t *testing.T) {
			row := gradeRow{
				Title: s, Type: s, Score: s, EnteredBy: s, EnteredAt: s, ID: 3, Version: 2, StudentID: 1,
				Edit:  editForm{Title: s, Type: s, Score: s, Key: s, Version: 2, Open: true, Errors: map[string]string{"title": s, "type": s, "score": s, "form": s}},
				Types: []typeOption{{Name: s, Selected: true}, {Name: "Quiz"}},
			}
			checkRows(t, []gradeRow{row})
		})
	}

	t.Run("extreme IDs", func(t *testing.T) {
		checkRows(t, []gradeRow{
			{ID: 0, StudentID: 0, Edit: editForm{Version: 0}},
			{ID: -1, StudentID: math.MinInt, Edit: editForm{Version: math.MaxInt}},
			{ID: math.MaxInt, StudentID: math.MaxInt, Edit: editForm{Version: -5}, Types: typeOptions("Homework")},
		})
	})
}

// FuzzGradeRows checks appendGradeRows against the "grade-row" template for arbitrary values:
//
//	go test -run '^$' -fuzz FuzzGradeRows -fuzztime 60s ./portal/
func FuzzGradeRows(f *testing.F) {
	for _, s := range hostile {
		f.Add(s, "Quiz", "85", "frizzle", "2026-11-30 07:00 UTC", "key-1", s, "Quiz", "85", s, "", s, "", 1, 1, 1, false)
		f.Add("Quiz 1", s, s, s, s, s, "Quiz 1", s, s, "", s, "", s, 2, 3, 4, true)
	}
	f.Add("Quiz 1", "Quiz", "85", "", "", "", "Quiz 1", "Quiz", "85", "", "", "", "", 1, 1, 1, false)
	f.Fuzz(func(t *testing.T, title, typ, score, by, at, key, editTitle, editType, editScore,
		errTitle, errType, errScore, errForm string, id, version, studentID int, open bool) {
		problems := map[string]string{}
		for k, v := range map[string]string{"title": errTitle, "type": errType, "score": errScore, "form": errForm} {
			if v != "" || len(k)%2 == 0 { // some keys present with an empty problem
				problems[k] = v
			}
		}
		row := gradeRow{
			Title: title, Type: typ, Score: score, EnteredBy: by, EnteredAt: at, ID: id, Version: version, StudentID: studentID,
			Edit:  editForm{Title: editTitle, Type: editType, Score: editScore, Version: version, Key: key, Open: open, Errors: problems},
			Types: append(typeOptions(editType)[:3:3], typeOption{Name: editType, Selected: open}),
		}
		plain := row
		plain.Edit.Errors, plain.Types = nil, typeOptions(typ)
		checkRows(t, []gradeRow{row, plain})
	})
}
