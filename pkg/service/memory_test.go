package service_test

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/pkg/config"
	"github.com/gradebook/gradebook/pkg/service"
	"github.com/gradebook/gradebook/registry/registrytest"
)

// gcPercent is the collector's current GOGC.
func gcPercent() uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
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

// TestReleaseAtServe runs in a process of its own (the release is the process's, once): with
// ReleaseAtServe, Serve drops the executable's resident start-up pages before it logs "serving",
// says how many at debug, and the service goes on serving from the pages it faults back in.
func TestReleaseAtServe(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the executable's pages are released on Linux only")
	}
	if os.Getenv("GRADEBOOK_TEST_RELEASE_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestReleaseAtServe$", "-test.v")
		cmd.Env = append(os.Environ(), "GRADEBOOK_TEST_RELEASE_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	hub := registrytest.Hub(registrytest.StartHub(t))
	service.ReleaseAtServe()
	var stderr syncBuffer
	rt, err := service.New(config.Common{Listen: "127.0.0.1:0", Registry: hub.URL(), Name: "release", LogLevel: "debug", CheckInterval: time.Second}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	stop := serve(t, rt)
	defer stop()
	released := regexp.MustCompile(`msg="released start-up memory" executable_kB=(\d+)`)
	var kB int
	testkit.Eventually(t, 5*time.Second, "the release logged", func() bool {
		m := released.FindStringSubmatch(stderr.String())
		if m != nil {
			kB, _ = strconv.Atoi(m[1])
		}
		return m != nil
	})
	if kB <= 0 {
		t.Errorf("released %d kB of the executable, want some: it was all resident a moment before", kB)
	}
	if status, _, body := get(t, "http://"+rt.Addr()+"/health"); status != 200 || !strings.Contains(body, `"passing"`) {
		t.Errorf("/health after the release = %d %s", status, body)
	}
	if i := strings.Index(stderr.String(), "released start-up memory"); i > strings.Index(stderr.String(), "msg=serving") {
		t.Errorf("the release came after the serving line (or there was none):\n%s", stderr.String())
	}
}

// syncBuffer is a bytes.Buffer that a test can read while a service writes its log to it.
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
