package portal

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/boltstore"
	"github.com/gradebook/gradebook/pkg/httpx"
)

// BenchmarkStudentPage measures what the portal spends on one view of a student's page, without
// the network: the portal's own routes (security headers, cross-origin check, router) and
// handler, over grading's service in process on a bbolt store holding the demo students, for
// student 1 (three grades, each with its edit form). The grading calls cost only the store's
// reads here, so the figure is mostly the page's own work: building the view and rendering it.
// Compare builds with benchstat:
//
//	go test -run '^$' -bench 'BenchmarkStudentPage$' -benchmem -count 8 ./portal/
func BenchmarkStudentPage(b *testing.B) {
	store, err := boltstore.Open(filepath.Join(b.TempDir(), "grading.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	if _, err := grading.SeedDemo(context.Background(), store); err != nil {
		b.Fatal(err)
	}
	r := httpx.NewRouter()
	if err := AddRoutes(r, Deps{Grading: grading.MakeServerEndpoints(grading.NewService(store))}); err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/students/1", nil)
	w := &discardWriter{header: http.Header{}}
	r.ServeHTTP(w, req)
	if w.status != http.StatusOK {
		b.Fatalf("GET /students/1 = %d", w.status)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(w.header)
		w.status, w.n = 0, 0
		r.ServeHTTP(w, req)
	}
	b.StopTimer()
	if w.status != http.StatusOK {
		b.Fatalf("GET /students/1 = %d", w.status)
	}
	b.ReportMetric(float64(w.n), "B/page")
}

// discardWriter is a ResponseWriter that keeps the status and counts the body's bytes.
type discardWriter struct {
	header http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}
