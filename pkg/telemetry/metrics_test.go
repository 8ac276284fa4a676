package telemetry

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestInstrumentCountsEachSeries: over a real socket, each (method, route, status) is counted
// and timed on its own series, however many requests share it.
func TestInstrumentCountsEachSeries(t *testing.T) {
	m := New()
	router := mux.NewRouter()
	router.Use(RouteLabel)
	router.HandleFunc("/students/{id}", func(w http.ResponseWriter, r *http.Request) {
		if mux.Vars(r)["id"] == "0" {
			w.WriteHeader(http.StatusNotFound)
		}
	})
	srv := httptest.NewServer(m.Instrument(router))
	defer srv.Close()
	for _, path := range []string{"/students/1", "/students/2", "/students/0", "/nowhere", "/students/3"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Post(srv.URL+"/students/1", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	want := `
# HELP gradebook_http_requests_total HTTP requests served, by method, route and status.
# TYPE gradebook_http_requests_total counter
gradebook_http_requests_total{method="GET",route="/students/{id}",status="200"} 3
gradebook_http_requests_total{method="GET",route="/students/{id}",status="404"} 1
gradebook_http_requests_total{method="GET",route="unmatched",status="404"} 1
gradebook_http_requests_total{method="POST",route="/students/{id}",status="200"} 1
`
	if err := testutil.GatherAndCompare(m.Gatherer(), strings.NewReader(want), "gradebook_http_requests_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.latency); n != 4 {
		t.Errorf("%d latency series, want 4", n)
	}
	mfs, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gradebook_http_request_duration_seconds" {
			continue
		}
		var total uint64
		for _, metric := range mf.GetMetric() {
			total += metric.GetHistogram().GetSampleCount()
		}
		if total != 6 {
			t.Errorf("%d requests timed, want 6", total)
		}
	}
}
