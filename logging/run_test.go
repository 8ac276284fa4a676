package logging

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// runLogService runs the real service; the registry address is dead, which the service must
// survive.
func runLogService(t *testing.T, addr, dataDir string) (stop func()) {
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
		done <- Run(ctx, []string{"-listen", addr, "-registry", "http://127.0.0.1:1"}, getenv, io.Discard)
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
	addr, dir := freeAddr(t), t.TempDir()
	stop := runLogService(t, addr, dir)
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
	stop = runLogService(t, addr, dir)
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
