package testkit

import (
	"syscall"
	"testing"
)

// LimitFileSize makes every write to a regular file by this process fail, as a full disk makes
// it fail, until restore is called (or the test ends): it lowers the soft RLIMIT_FSIZE to 0, so
// that write(2) and ftruncate(2) answer EFBIG (Go ignores the SIGXFSZ that comes with it). It is
// the kernel refusing a store's real writes, with no root, no loop device and no seam in the
// store; only the errno differs from ENOSPC's, and both are storage failures to
// errs.StorageClass. Pipes and sockets are not affected. The limit is the whole process's, so a
// test that uses it must not run in parallel with one that writes files, and it is skipped where
// the limit cannot be set.
func LimitFileSize(t testing.TB) (restore func()) {
	t.Helper()
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
