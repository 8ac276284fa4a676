package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/internal/testkit"
)

func TestRunServesAndStopsCleanly(t *testing.T) {
	// Port 1 on loopback refuses connections: a registry that is down.
	data, registry := t.TempDir(), "http://127.0.0.1:1"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testkit.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"-listen", "127.0.0.1:0", "-grpc-listen", "127.0.0.1:0", "-data", data, "-registry", registry}, nil, &stderr)
	}()
	addr := testkit.ServingAddr(t, &stderr, 10*time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	get := func(path string) (int, string) {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := get("/health"); code == http.StatusOK {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health never passed\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, body := get("/students")
	var students []grading.Student
	if code != 200 || json.Unmarshal([]byte(body), &students) != nil || len(students) != 5 {
		t.Errorf("GET /students = %d %s; want the five demo students", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "gradebook_grading_students_total 5") {
		t.Errorf("/metrics has no students gauge of 5: %d", code)
	}

	stopRun(t, cancel, done, &stderr, 15*time.Second)
	if !strings.Contains(stderr.String(), "seeded the demo students") {
		t.Errorf("no seeding log line:\n%s", stderr.String())
	}
}

// stopRun ends Run's context and waits up to within for it to return, failing the test unless
// it returns nil.
func stopRun(t *testing.T, cancel context.CancelFunc, done <-chan error, stderr *testkit.Buffer, within time.Duration) {
	t.Helper()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run() = %v after a clean stop\n%s", err, stderr.String())
		}
	case <-time.After(within):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestRunFlags(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"-h"}, nil, &out); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
	for _, f := range []string{"-grpc-listen", "-demo", "-data", "-listen", "-name", "grading service", "-store", "-store-max-conns", "-store-connect-timeout", "-store-statement-timeout"} {
		if !strings.Contains(strings.ToLower(out.String()), strings.ToLower(f)) {
			t.Errorf("usage does not mention %s:\n%s", f, out.String())
		}
	}
	if err := Run(context.Background(), []string{"-grpc-listen", "nope", "-data", t.TempDir()}, nil, io.Discard); err == nil {
		t.Error("-grpc-listen nope accepted")
	}
	if err := Run(context.Background(), []string{"-listen", "nope", "-data", t.TempDir()}, nil, io.Discard); err == nil {
		t.Error("-listen nope accepted")
	}
}
