package logging

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gradebook/gradebook/internal/testkit"
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

// runLogService runs the real service on a port of its choosing (-listen 127.0.0.1:0) until
// stop is called; addr is where it serves.
func runLogService(t *testing.T, dataDir, registry string) (addr string, stop func()) {
	t.Helper()
	getenv := func(k string) string {
		if k == "GRADEBOOK_DATA" {
			return dataDir
		}
		return ""
	}
	addr, _, stop = testkit.StartRun(t, Run, []string{"-listen", "127.0.0.1:0", "-registry", registry}, getenv)
	return addr, stop
}

func TestRunStoresAndReloads(t *testing.T) {
	// The registry is dead: the service must serve anyway.
	dir := t.TempDir()
	addr, stop := runLogService(t, dir, "http://127.0.0.1:1")
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
	addr, stop = runLogService(t, dir, fakeRegistry(t))
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
