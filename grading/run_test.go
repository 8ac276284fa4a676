package grading

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// freeAddr returns a 127.0.0.1 address nothing listens on right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer is a bytes.Buffer that the service's logger and the test can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunServesAndStopsCleanly(t *testing.T) {
	addr, data, registry := freeAddr(t), t.TempDir(), "http://"+freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"-listen", addr, "-grpc-listen", "127.0.0.1:0", "-data", data, "-registry", registry}, nil, &stderr)
	}()
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
	var students []Student
	if code != 200 || json.Unmarshal([]byte(body), &students) != nil || len(students) != 5 {
		t.Errorf("GET /students = %d %s; want the five demo students", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "gradebook_grading_students_total 5") {
		t.Errorf("/metrics has no students gauge of 5: %d", code)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run() = %v after a clean stop\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if !strings.Contains(stderr.String(), "seeded the demo students") {
		t.Errorf("no seeding log line:\n%s", stderr.String())
	}
}

func TestRunFlags(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"-h"}, nil, &out); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
	for _, f := range []string{"-grpc-listen", "-demo", "-data", "-listen", "-name", "grading service"} {
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
