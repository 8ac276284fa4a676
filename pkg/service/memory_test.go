package service_test

import (
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/pkg/service"
)

// gcPercent is the collector's current GOGC.
func gcPercent() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// waitGCPercent collects until the collector's GOGC is want (the choice is made by a finalizer,
// which runs after the collection), or 5 s have passed; it returns the last GOGC seen.
func waitGCPercent(want uint64) uint64 {
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		if got := gcPercent(); got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestGCPacedByLoad runs in a process of its own (the setting is the process's): an explicit
// GOGC is kept; otherwise the collector runs at GOGC=100 while collections are rare, at the busy
// target while they come fast (a busy service), and at 100 again once they are rare.
func TestGCPacedByLoad(t *testing.T) {
	if os.Getenv("GRADEBOOK_TEST_GC_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestGCPacedByLoad$", "-test.v")
		cmd.Env = append(os.Environ(), "GRADEBOOK_TEST_GC_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	debug.SetGCPercent(250)
	service.LimitMemory(func(k string) string {
		if k == "GOGC" {
			return "250"
		}
		return ""
	})
	if got := gcPercent(); got != 250 {
		t.Fatalf("with GOGC=250 in the environment, GOGC is %d after LimitMemory", got)
	}

	service.LimitMemory(func(string) string { return "" })
	if got := gcPercent(); got != 100 {
		t.Fatalf("after LimitMemory, GOGC is %d, want 100 until the process is busy", got)
	}
	// Busy: allocate fast enough for collections to come far closer than 250 ms apart.
	var sink []byte
	deadline := time.Now().Add(5 * time.Second)
	for gcPercent() != service.BusyGCPercent && time.Now().Before(deadline) {
		for range 1000 {
			sink = make([]byte, 16<<10)
		}
		runtime.Gosched()
	}
	runtime.KeepAlive(sink)
	if got := gcPercent(); got != service.BusyGCPercent {
		t.Fatalf("allocating hundreds of MB a second, GOGC is %d, want %d", got, service.BusyGCPercent)
	}
	// Idle: 2 s without a collection bring it back, without waiting for the next collection.
	deadline = time.Now().Add(5 * time.Second)
	for gcPercent() != 100 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := gcPercent(); got != 100 {
		t.Errorf("idle for seconds, GOGC is %d, want 100", got)
	}
}
