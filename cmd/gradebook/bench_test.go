package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBench runs "gradebook bench" end to end with tiny durations: the real system as up starts
// it, the bare reverse proxy in its own process, and load on every target. It checks that every
// target is reported with requests and no errors, that the ratios are printed, and that
// -cpuprofile-dir leaves a profile from each process. It asserts no timing.
func TestBench(t *testing.T) {
	bin := buildGradebook(t)
	profiles := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, err := exec.CommandContext(ctx, bin, "bench", "-duration", "200ms", "-warmup", "100ms", "-rounds", "2", "-conns", "4", "-cpuprofile-dir", profiles).CombinedOutput()
	out := string(b)
	if err != nil {
		t.Fatalf("gradebook bench: %v\n%s", err, out)
	}
	for _, target := range []string{"direct", "proxy", "gateway", "html"} {
		// target, req/s, p50, p99, requests, errors: some requests and 0 errors.
		re := regexp.MustCompile(`(?m)^\s*` + target + `\s+\d+\s+\S+\s+\S+\s+[1-9]\d*\s+0\s`)
		if !re.MatchString(out) {
			t.Errorf("no line for %s with requests and 0 errors in:\n%s", target, out)
		}
	}
	for _, ratio := range []string{"gateway / proxy", "html / direct"} {
		if !strings.Contains(out, ratio) {
			t.Errorf("no %q ratio in:\n%s", ratio, out)
		}
	}
	for _, p := range []string{"portal", "grading", "log", "registry", "proxy", "loadgen"} {
		fi, err := os.Stat(filepath.Join(profiles, p+".pprof"))
		if err != nil || fi.Size() == 0 {
			t.Errorf("no CPU profile from %s: %v", p, err)
		}
	}
}

// TestBenchRefusesBadFlags checks that bench refuses what it cannot run before starting anything.
func TestBenchRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-tracing", "0.5"},
		{"-targets", "direct,nothing"},
		{"-conns", "0"},
		{"-duration", "0s"},
		{"-transport", "carrier-pigeon"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"bench"}, args...), os.Getenv, nil, &stdout, &stderr)
		if err == nil {
			t.Errorf("bench %q: no error", args)
		}
	}
}

// TestBenchRoundTripReportsTheAnswer checks that an answer other than 2xx is reported with the
// start of its body, so that a run's errors say what the system answered, and that the
// connection stays usable after it.
func TestBenchRoundTripReportsTheAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"error":"the grading service is unavailable: no instance"}`+"\n"+strings.Repeat("x", 1000))
			return
		}
		_, _ = io.WriteString(w, "fine")
	}))
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	req := func(path string) []byte {
		return []byte("GET " + path + " HTTP/1.1\r\nHost: " + srv.Listener.Addr().String() + "\r\n\r\n")
	}
	status, body, err := roundTrip(conn, br, req("/down"))
	if err != nil || status != http.StatusServiceUnavailable || body != `{"error":"the grading service is unavailable: no instance"}` {
		t.Fatalf("roundTrip = %d %q %v; want 503 with the body's first line", status, body, err)
	}
	status, body, err = roundTrip(conn, br, req("/"))
	if err != nil || status != http.StatusOK || body != "" {
		t.Fatalf("then roundTrip = %d %q %v; want 200 and no body reported", status, body, err)
	}
}
