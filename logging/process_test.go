package logging

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/testkit"
)

// logProcess is the logservice command running as its own OS process, as in production, so that
// what is measured is the log service alone: not the load generator, and not the race detector
// when the tests run under -race.
type logProcess struct {
	addr string // host:port
	pid  int
	file string // its log file
}

// startLogProcess builds cmd/logservice, starts it on a port of 127.0.0.1 that the kernel picks
// with a fresh -data (and a registry nobody answers at, which it tolerates), and waits until it
// serves. It is stopped at tb's cleanup. GRADEBOOK_BENCH_LOGSERVICE names a logservice binary
// to run instead, so that two builds can be compared in one interleaved run.
func startLogProcess(tb testing.TB, env ...string) *logProcess {
	tb.Helper()
	bin := os.Getenv("GRADEBOOK_BENCH_LOGSERVICE")
	if bin == "" {
		bin = testkit.BuildCommand(tb, "github.com/gradebook/gradebook/cmd/logservice")
	}
	dir := tb.TempDir()
	lp := &logProcess{file: filepath.Join(dir, "data", "gradebook.log")}
	stderrPath := filepath.Join(dir, "logservice.stderr")
	out, err := os.Create(stderrPath)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-data", filepath.Join(dir, "data"), "-registry", "http://127.0.0.1:1")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	proc, err := testkit.StartProcess(cmd)
	if err != nil {
		out.Close()
		tb.Fatalf("start logservice: %v", err)
	}
	lp.pid = proc.Pid()
	tb.Cleanup(func() {
		if proc.Stop(10 * time.Second) {
			tb.Errorf("logservice did not stop within 10s of SIGTERM; it was killed")
		}
		out.Close()
	})
	serving := regexp.MustCompile(`msg=serving listen=(\S+)\s`)
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, _ := os.ReadFile(stderrPath)
		if m := serving.FindSubmatch(b); m != nil {
			lp.addr = string(m[1])
			return lp
		}
		select {
		case <-proc.Exited():
			tb.Fatalf("logservice exited before serving:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("logservice: no serving line within 15s:\n%s", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every Linux Go runs on.
const clockTicks = 100

// cpuTime is the user plus system CPU time the process pid has used, from /proc/<pid>/stat.
func cpuTime(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// The command name, in parentheses, may hold spaces: the fields start after its ')'.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	// utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		tb.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks
}
