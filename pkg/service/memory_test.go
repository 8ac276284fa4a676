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

// TestRaisedGCPercentFollowsHeap runs in a process of its own (the setting is the process's):
// an explicit GOGC is kept; a GOGC of 400 set by main applies while the heap is large, and 100
// while it is small, so that an idle hub does not hold 16 MB of garbage.
func TestRaisedGCPercentFollowsHeap(t *testing.T) {
	if os.Getenv("GRADEBOOK_TEST_GC_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestRaisedGCPercentFollowsHeap$", "-test.v")
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

	debug.SetGCPercent(400)
	service.LimitMemory(func(string) string { return "" })
	if got := waitGCPercent(100); got != 100 {
		t.Errorf("a small heap at a raised GOGC=400: GOGC is %d, want 100", got)
	}
	live := make([][]byte, 64)
	for i := range live {
		live[i] = make([]byte, 512<<10)
	}
	if got := waitGCPercent(400); got != 400 {
		t.Errorf("with 32 MB live: GOGC is %d, want the raised 400", got)
	}
	runtime.KeepAlive(live)
	live = nil
	if got := waitGCPercent(100); got != 100 {
		t.Errorf("after the 32 MB are let go: GOGC is %d, want 100", got)
	}
}
