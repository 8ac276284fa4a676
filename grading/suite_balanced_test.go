package grading_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingclient"
	"github.com/gradebook/gradebook/grading/gradingtest"
)

// TestServiceBalanced runs the suite through the load-balanced endpoints a gateway uses
// (gradingclient.NewBalanced), over each transport, so that every method is wired through the
// balancer, its breakers and its retries.
func TestServiceBalanced(t *testing.T) {
	for _, tr := range []struct {
		name    string
		serve   func(t *testing.T, svc grading.Service) string
		connect gradingclient.Connector
	}{
		{"http", func(t *testing.T, svc grading.Service) string {
			return strings.TrimPrefix(gradingtest.ServeHTTP(t, svc).URL, "http://")
		}, gradingclient.HTTPConnector(&http.Client{})},
		{"grpc", func(t *testing.T, svc grading.Service) string { return gradingtest.ServeGRPC(t, svc, "") }, gradingclient.GRPCConnector("")},
	} {
		t.Run(tr.name, func(t *testing.T) {
			testService(t, func(t *testing.T) grading.Service {
				addr := tr.serve(t, gradingtest.NewService(t))
				eps, subs := gradingclient.NewBalanced(sd.FixedInstancer{addr}, tr.connect, gradingclient.DefaultBalancing(), "grading", log.NewNopLogger())
				t.Cleanup(subs.Close)
				waitEndpoints(t, eps)
				return eps
			})
		})
	}
}

// waitEndpoints waits until the Endpointer has taken in the instancer's first event, which it
// does on its own goroutine: until then every call answers that no instance is available.
func waitEndpoints(t *testing.T, eps grading.Endpoints) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := eps.ListStudents(context.Background())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the balancer never found the instance: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
