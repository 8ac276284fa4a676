package gradingclient_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/log"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingclient"
	"github.com/gradebook/gradebook/grading/gradingtest"
	"github.com/gradebook/gradebook/grading/httpserver"
	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/pkg/idempotency"
	"github.com/gradebook/gradebook/pkg/requestid"
)

var _ grading.Service = grading.Endpoints{} // a client built from endpoints is a Service

func newHandler(t testing.TB) http.Handler {
	t.Helper()
	return httpserver.NewHandler(grading.MakeServerEndpoints(gradingtest.NewDemoService(t)), log.NewNopLogger())
}

// TestEndpointsCarryBusinessErrorsInTheResponse checks the contract breakers and retries rely
// on: a 404 or a validation failure is a Failer response, not an endpoint error.
func TestEndpointsCarryBusinessErrorsInTheResponse(t *testing.T) {
	local := grading.MakeServerEndpoints(gradingtest.NewService(t))
	remote := gradingtest.HTTPClient(t, gradingtest.NewService(t))
	for name, eps := range map[string]grading.Endpoints{"local": local, "http": remote} {
		ctx := context.Background()
		resp, err := eps.GetStudentEndpoint(ctx, grading.GetStudentRequest{ID: 7})
		if err != nil {
			t.Errorf("%s: GetStudent(7) endpoint error %v, want a Failer response", name, err)
		} else if f, ok := resp.(endpoint.Failer); !ok || !errors.Is(f.Failed(), grading.ErrStudentNotFound) {
			t.Errorf("%s: GetStudent(7) = %#v, want a Failer with grading.ErrStudentNotFound", name, resp)
		}
		resp, err = eps.AddGradeEndpoint(ctx, grading.AddGradeRequest{StudentID: 1, Grade: grading.Grade{Score: 500}})
		if err != nil {
			t.Errorf("%s: invalid grade endpoint error %v", name, err)
		} else if f, ok := resp.(endpoint.Failer); !ok || !errors.Is(f.Failed(), errs.ErrInvalid) {
			t.Errorf("%s: invalid grade = %#v, want a Failer with ErrInvalid", name, resp)
		}
	}
}

func TestHTTPClientRequests(t *testing.T) {
	type seen struct {
		method, path, requestID, idemKey string
		body                             []byte
		contentLength                    int64
		transferEncoding                 []string
	}
	var last atomic.Pointer[seen]
	var conns atomic.Int32
	h := newHandler(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		last.Store(&seen{r.Method, r.URL.Path, r.Header.Get(httpx.RequestIDHeader), r.Header.Get(idempotency.Header), b, r.ContentLength, r.TransferEncoding})
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		h.ServeHTTP(w, r)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	client := &http.Client{}
	defer srv.Close()
	defer client.CloseIdleConnections()
	eps, err := gradingclient.MakeHTTPClientEndpoints(srv.Listener.Addr().String(), client)
	if err != nil {
		t.Fatal(err)
	}
	ctx := requestid.NewContext(context.Background(), "req-42")

	for i := 0; i < 20; i++ {
		if _, err := eps.GetStudent(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := eps.GetStudent(ctx, 99); !errors.Is(err, grading.ErrStudentNotFound) {
			t.Fatalf("GetStudent(99) = %v", err)
		}
	}
	got := last.Load()
	if got.method != "GET" || got.path != "/students/99" || len(got.body) != 0 || got.contentLength != 0 || len(got.transferEncoding) != 0 {
		t.Errorf("GET sent %+v; want no body at all (not even JSON null)", got)
	}
	if got.requestID != "req-42" {
		t.Errorf("X-Request-ID = %q, want the caller's req-42", got.requestID)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("40 sequential calls (200s and 404s) opened %d connections, want 1: answers must be drained and closed", n)
	}

	if _, err := eps.AddGrade(ctx, 1, grading.Grade{Title: "Quiz 3", Type: grading.TypeQuiz, Score: 90}, "k-1"); err != nil {
		t.Fatal(err)
	}
	if got := last.Load(); got.idemKey != "k-1" || !strings.Contains(string(got.body), `"title":"Quiz 3"`) {
		t.Errorf("AddGrade sent %+v, want Idempotency-Key k-1 and the grade", got)
	}
	if _, err := eps.AddGrade(ctx, 1, grading.Grade{Title: "Quiz 4", Type: grading.TypeQuiz, Score: 90}, ""); err != nil {
		t.Fatal(err)
	}
	if got := last.Load(); got.idemKey != "" {
		t.Errorf("AddGrade without a key sent Idempotency-Key %q", got.idemKey)
	}
}

// TestHTTPClientTransportFailures checks that failures of the instance, unlike business
// errors, come back as endpoint errors, so that breakers and retries see them.
func TestHTTPClientTransportFailures(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"500", func(w http.ResponseWriter, r *http.Request) { httpx.Error(w, 500, "internal error") }},
		{"503", func(w http.ResponseWriter, r *http.Request) { httpx.Error(w, 503, "shutting down") }},
		{"502 from a proxy, not JSON", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "bad gateway", http.StatusBadGateway) }},
		{"garbled 200", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>") }},
		{"429", func(w http.ResponseWriter, r *http.Request) { httpx.Error(w, 429, "slow down") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			eps, _ := gradingclient.MakeHTTPClientEndpoints(srv.URL, srv.Client())
			defer srv.Client().CloseIdleConnections()
			resp, err := eps.GetStudentEndpoint(context.Background(), grading.GetStudentRequest{ID: 1})
			if err == nil {
				t.Errorf("endpoint answered %#v, nil; want a transport error", resp)
			}
		})
	}
	// Grading never redirects: a 3xx is a failed call, whichever client makes it, and the
	// place it points to is never asked.
	for _, timeout := range []time.Duration{0, time.Minute} {
		t.Run(fmt.Sprintf("redirect, client timeout %v", timeout), func(t *testing.T) {
			var followed atomic.Bool
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/elsewhere" {
					followed.Store(true)
				}
				http.Redirect(w, r, "/elsewhere", http.StatusFound)
			}))
			defer srv.Close()
			client := srv.Client()
			client.Timeout = timeout
			eps, _ := gradingclient.MakeHTTPClientEndpoints(srv.URL, client)
			if resp, err := eps.GetStudentEndpoint(context.Background(), grading.GetStudentRequest{ID: 1}); err == nil {
				t.Errorf("endpoint answered %#v, nil; want a transport error", resp)
			}
			if followed.Load() {
				t.Error("the redirect was followed")
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		eps, _ := gradingclient.MakeHTTPClientEndpoints(addr, &http.Client{})
		if _, err := eps.ListStudentsEndpoint(context.Background(), grading.ListStudentsRequest{}); err == nil {
			t.Error("refused connection gave no endpoint error")
		}
	})
	t.Run("bad instance", func(t *testing.T) {
		if _, err := gradingclient.MakeHTTPClientEndpoints("ftp://x", nil); err == nil {
			t.Error("ftp:// instance accepted")
		}
	})
}
