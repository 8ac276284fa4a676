package server

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-kit/log"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingtest"
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
	svc = grading.LoggingMiddleware(log.NewLogfmtLogger(&logs))(svc)
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
