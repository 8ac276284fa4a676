package gradingclient_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-kit/log"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingclient"
	"github.com/gradebook/gradebook/grading/gradingtest"
	"github.com/gradebook/gradebook/grading/httpserver"
)

// BenchmarkGetStudent measures GET /students/1 against an httptest server over the bbolt
// store: through the HTTP client endpoints (what the gateway uses), and with a bare net/http
// GET that drains the body as the floor. The difference is the client's own cost; allocations
// are reported per call, client and server together, since both run in this process.
//
//	go test -run '^$' -bench GetStudent -benchmem ./grading
func BenchmarkGetStudent(b *testing.B) {
	store := gradingtest.NewStore(b)
	if _, err := grading.SeedDemo(context.Background(), store); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(httpserver.NewHandler(grading.MakeServerEndpoints(grading.NewService(store)), log.NewNopLogger()))
	defer srv.Close()
	// One idle connection per parallel caller, so that connections are reused, not churned.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()

	b.Run("client endpoints", func(b *testing.B) {
		eps, err := gradingclient.MakeHTTPClientEndpoints(srv.Listener.Addr().String(), client)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				if _, err := eps.GetStudent(ctx, 1); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("plain net/http", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := client.Get(srv.URL + "/students/1")
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	})
}

// cannedTransport answers every request with the same body, without a network, so that a
// benchmark measures the client alone.
type cannedTransport struct{ body string }

func (c cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{}, Body: io.NopCloser(strings.NewReader(c.body)), Request: r}, nil
}

// BenchmarkHTTPClientAlone is the client endpoints' own cost per GetStudent: building the
// request, reading the answer and decoding the student.
func BenchmarkHTTPClientAlone(b *testing.B) {
	body := `{"id":1,"firstName":"Averill","lastName":"Simen","grades":[{"title":"Quiz 1","type":"Quiz","score":85},{"title":"Week 1 Homework","type":"Homework","score":94},{"title":"Quiz 2","type":"Quiz","score":82}],"average":87}`
	eps, err := gradingclient.MakeHTTPClientEndpoints("127.0.0.1:6000", &http.Client{Transport: cannedTransport{body}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := eps.GetStudent(ctx, 1); err != nil {
			b.Fatal(err)
		}
	}
}
