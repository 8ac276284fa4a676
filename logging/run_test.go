package logging

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

func TestRunHelp(t *testing.T) {
	var stderr strings.Builder
	err := Run(context.Background(), []string{"-h"}, nil, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Run -h: %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(stderr.String(), "log service") || !strings.Contains(stderr.String(), "-file") {
		t.Errorf("usage does not say what the service is or list -file:\n%s", stderr.String())
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// fakeRegistry accepts every registration, so that a service under test starts and stops
// without waiting on a registry.
func fakeRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Consul-Index", "1")
		w.Header().Set("X-Consul-LastContact", "0")
		w.Header().Set("X-Consul-KnownLeader", "true")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "{}")
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// runLogService runs the real service until stop is called.
func runLogService(t *testing.T, addr, dataDir, registry string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	getenv := func(k string) string {
		if k == "GRADEBOOK_DATA" {
			return dataDir
		}
		return ""
	}
	go func() {
		done <- Run(ctx, []string{"-listen", addr, "-registry", registry}, getenv, io.Discard)
	}()
	waitFor(t, "/health", 5*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
	}
}

func TestRunStoresAndReloads(t *testing.T) {
	// The registry is dead: the service must serve anyway.
	addr, dir := freeAddr(t), t.TempDir()
	stop := runLogService(t, addr, dir, "http://127.0.0.1:1")
	resp, err := http.Post("http://"+addr+"/v1/logs", "application/json",
		strings.NewReader(`[{"service":"grading","level":"info","msg":"grade added","request_id":"r-1"}]`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("POST /v1/logs: %s", resp.Status)
	}
	stop()

	raw, err := os.ReadFile(filepath.Join(dir, "gradebook.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"msg":"grade added"`) || !strings.Contains(string(raw), `"service":"log"`) {
		t.Errorf("the file lacks the shipped entry or the service's own entries:\n%s", raw)
	}
	if strings.Contains(string(raw), `"path":"/v1/logs","request_id"`) && strings.Contains(string(raw), `"status":200`) {
		t.Errorf("successful ingest requests were stored as entries:\n%s", raw)
	}

	// A restarted service answers from the reloaded window.
	addr = freeAddr(t)
	stop = runLogService(t, addr, dir, fakeRegistry(t))
	defer stop()
	resp, err = http.Get("http://" + addr + "/v1/logs?service=grading")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0]["request_id"] != "r-1" {
		t.Errorf("after restart GET /v1/logs?service=grading = %v", got)
	}
}

func getLogs(t *testing.T, addr, query string) []map[string]any {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/v1/logs?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestShipperAcrossLogServiceRestart stops the real log service while a shipper keeps logging,
// starts it again on the same address and data, and finds every entry, in order.
func TestShipperAcrossLogServiceRestart(t *testing.T) {
	addr, dir, reg := freeAddr(t), t.TempDir(), fakeRegistry(t)
	stop := runLogService(t, addr, dir, reg)
	opts := testOptions(nil, &syncBuilder{})
	sh := NewShipper(sd.FixedInstancer{addr}, opts)
	defer sh.Close(context.Background())
	logger := log.With(sh, "ts", log.DefaultTimestampUTC, "service", "grading")
	logN := func(from, to int) {
		for i := from; i < to; i++ {
			level.Info(logger).Log("msg", "request", "seq", i, "request_id", fmt.Sprint("req-", i))
		}
	}
	logN(0, 20)
	waitFor(t, "the first entries", 5*time.Second, func() bool { return sh.Pending() == 0 })

	stop()
	failures := sh.failures.Load()
	logN(20, 300)
	waitFor(t, "failed attempts while the log service is down", 5*time.Second, func() bool { return sh.failures.Load() >= failures+3 })
	logN(300, 400)

	stop = runLogService(t, addr, dir, reg)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sh.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := getLogs(t, addr, "service=grading&limit=1000")
	if len(got) != 400 {
		t.Fatalf("%d entries, want 400", len(got))
	}
	for i, m := range got {
		if m["seq"] != float64(i) || m["request_id"] != fmt.Sprint("req-", i) || m["level"] != "info" {
			t.Fatalf("entry %d: %v", i, m)
		}
	}
}
