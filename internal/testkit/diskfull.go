package testkit

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// isolatedEnv names the test that a child process started by Isolate is to run.
const isolatedEnv = "GRADEBOOK_TESTKIT_ISOLATED"

// Isolate runs the calling test again, alone, in a child process of the test binary, and reports
// whether the caller is that child: the test goes on only in the child, and the parent only
// relays its outcome.
//
//	if !testkit.Isolate(t) {
//		return
//	}
//
// It is for tests that change what belongs to the whole process, such as LimitFileSize's
// RLIMIT_FSIZE, which would otherwise also refuse the writes of tests running beside it and of
// the go command's own bookkeeping (its test log, which caching needs).
func Isolate(t *testing.T) bool {
	t.Helper()
	if os.Getenv(isolatedEnv) == t.Name() {
		return true
	}
	levels := strings.Split(t.Name(), "/")
	for i, l := range levels {
		levels[i] = "^" + regexp.QuoteMeta(l) + "$"
	}
	cmd := exec.Command(os.Args[0], "-test.run="+strings.Join(levels, "/"), "-test.count=1", "-test.v", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), isolatedEnv+"="+t.Name())
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s, run alone in a child process: %v\n%s", t.Name(), err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s, run alone in a child process, did not pass:\n%s", t.Name(), out)
	}
	t.Logf("run alone in a child process:\n%s", out)
	return false
}

// LimitFileSize makes every write to a regular file by this process fail, as a full disk makes
// it fail, until restore is called (or the test ends): it lowers the soft RLIMIT_FSIZE to 0, so
// that write(2) and ftruncate(2) answer EFBIG (Go ignores the SIGXFSZ that comes with it). It is
// the kernel refusing a store's real writes, with no root, no loop device and no seam in the
// store; only the errno differs from ENOSPC's, and both are storage failures to
// errs.StorageClass. Pipes and sockets are not affected. The limit is the whole process's, so
// only a test run alone in its own process (Isolate) may lower it, and it is skipped where the
// limit cannot be set.
func LimitFileSize(t testing.TB) (restore func()) {
	t.Helper()
	if os.Getenv(isolatedEnv) != t.Name() {
		t.Fatal("LimitFileSize changes the whole process: call it in a test run by Isolate")
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Skipf("read RLIMIT_FSIZE: %v", err)
	}
	limited := old
	limited.Cur = 0
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limited); err != nil {
		t.Skipf("lower RLIMIT_FSIZE: %v", err)
	}
	restored := false
	restore = func() {
		if restored {
			return
		}
		restored = true
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
			t.Errorf("restore RLIMIT_FSIZE: %v", err)
		}
	}
	t.Cleanup(restore)
	return restore
}
