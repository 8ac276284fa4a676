package server

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingtest"
	"github.com/gradebook/gradebook/pkg/logx"
	"github.com/gradebook/gradebook/pkg/requestid"
	"github.com/gradebook/gradebook/pkg/telemetry"
)

// TestMiddleware runs grading's middleware as the process wires it, and reads what a user of
// the logs and of /metrics would see.
func TestMiddleware(t *testing.T) {
	var logs bytes.Buffer
	reg := telemetry.New()
	store := gradingtest.NewStore(t)
	svc := grading.NewService(store)
	svc = grading.LoggingMiddleware(log.NewLogfmtLogger(&logs), true)(svc)
	svc = instrument(reg, store)(svc)

	ctx := requestid.NewContext(context.Background(), "rid-7")
	st, _ := svc.AddStudent(ctx, "Averill", "Simen")
	svc.AddGrade(ctx, st.ID, grading.Grade{Title: "Quiz 1", Type: grading.TypeQuiz, Score: 85}, "k")
	svc.AddGrade(ctx, st.ID, grading.Grade{Title: "Quiz 1", Type: grading.TypeQuiz, Score: 86}, "k") // conflict
	svc.GetStudent(ctx, 42)                                                                          // not found

	for _, want := range []string{
		`msg="add grade" method=AddGrade student_id=1 title="Quiz 1" type=Quiz score=85 idempotency_key=k`,
		`request_id=rid-7`,
		`err="this Idempotency-Key was already used for a different grade"`,
		`method=GetStudent student_id=42`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs.String())
		}
	}

	rec := httptest.NewRecorder()
	reg.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`gradebook_grading_calls_total{method="AddGrade",outcome="conflict"} 1`,
		`gradebook_grading_calls_total{method="AddGrade",outcome="ok"} 1`,
		`gradebook_grading_calls_total{method="AddStudent",outcome="ok"} 1`,
		`gradebook_grading_calls_total{method="GetStudent",outcome="not_found"} 1`,
		`gradebook_grading_call_duration_seconds_count{method="AddGrade",outcome="ok"} 1`,
		`gradebook_grading_students_total 1`,
		`gradebook_grading_grades_total 1`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// BenchmarkLoggingGetStudent is a read through grading's logging middleware as a process wires
// it at the default level (info): a read that succeeds has no line of its own.
func BenchmarkLoggingGetStudent(b *testing.B) {
	logger, _ := logx.New(io.Discard, "grading", "info")
	store := gradingtest.NewStore(b)
	svc := grading.LoggingMiddleware(logger, false)(grading.NewService(store))
	ctx := requestid.NewContext(context.Background(), "rid-7")
	st, err := svc.AddStudent(ctx, "Averill", "Simen")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.GetStudent(ctx, st.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLoggingMiddlewareLevels runs the middleware on the process's own logger (logx) at debug
// and at info: at debug every call has its line, as it always had; at info a read that succeeds
// has none, while writes and failed reads keep theirs, word for word.
func TestLoggingMiddlewareLevels(t *testing.T) {
	calls := func(t *testing.T, lvl string) []string {
		var logs bytes.Buffer
		logger, _ := logx.New(&logs, "grading", lvl)
		svc := grading.LoggingMiddleware(logger, logx.Enabled(lvl, level.DebugValue()))(grading.NewService(gradingtest.NewStore(t)))
		ctx := requestid.NewContext(context.Background(), "rid-7")
		st, err := svc.AddStudent(ctx, "Averill", "Simen")
		if err != nil {
			t.Fatal(err)
		}
		svc.GetStudent(ctx, st.ID)
		svc.GetStudent(ctx, 42)
		svc.ListStudents(ctx)
		g, err := svc.AddGrade(ctx, st.ID, grading.Grade{Title: "Quiz 1", Type: grading.TypeQuiz, Score: 85}, "k")
		if err != nil {
			t.Fatal(err)
		}
		svc.GetGrade(ctx, st.ID, g.ID)
		svc.GetGrade(ctx, st.ID, 99)
		svc.GradeHistory(ctx, st.ID)
		// The time stamp and the duration differ from run to run.
		varying := regexp.MustCompile(` (ts|took)=\S+`)
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		for i := range lines {
			lines[i] = varying.ReplaceAllString(lines[i], "")
		}
		return lines
	}
	const (
		addStudent = `level=info service=grading msg="add student" method=AddStudent student_id=1 request_id=rid-7`
		getStudent = `level=debug service=grading msg="get student" method=GetStudent student_id=1 request_id=rid-7`
		noStudent  = `level=info service=grading msg="get student" method=GetStudent student_id=42 request_id=rid-7 err="no such student"`
		list       = `level=debug service=grading msg="list students" method=ListStudents students=1 request_id=rid-7`
		addGrade   = `level=info service=grading msg="add grade" method=AddGrade student_id=1 title="Quiz 1" type=Quiz score=85 idempotency_key=k request_id=rid-7`
		getGrade   = `level=debug service=grading msg="get grade" method=GetGrade student_id=1 grade_id=1 request_id=rid-7`
		noGrade    = `level=info service=grading msg="get grade" method=GetGrade student_id=1 grade_id=99 request_id=rid-7 err="no such grade"`
		history    = `level=debug service=grading msg="grade history" method=GradeHistory student_id=1 events=0 request_id=rid-7`
	)
	for _, tc := range []struct {
		lvl  string
		want []string
	}{
		{"debug", []string{addStudent, getStudent, noStudent, list, addGrade, getGrade, noGrade, history}},
		{"info", []string{addStudent, noStudent, addGrade, noGrade}},
	} {
		t.Run(tc.lvl, func(t *testing.T) {
			if got := calls(t, tc.lvl); !slices.Equal(got, tc.want) {
				t.Errorf("at %s the log is\n%s\nwant\n%s", tc.lvl, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
