package server

import (
	"context"
	"testing"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingtest"
	"github.com/gradebook/gradebook/pkg/telemetry"
)

// BenchmarkInstrumentedGetStudent is a read through grading's instrumenting middleware as the
// process wires it: a call counted and timed by method and outcome.
func BenchmarkInstrumentedGetStudent(b *testing.B) {
	store := gradingtest.NewStore(b)
	svc := instrument(telemetry.New(), store)(grading.NewService(store))
	st, err := svc.AddStudent(context.Background(), "Averill", "Simen")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.GetStudent(context.Background(), st.ID); err != nil {
			b.Fatal(err)
		}
	}
}
