//go:build unix

package netx

import "syscall"

// FileLimit is the process's soft limit on open files, and whether it is known.
func FileLimit() (uint64, bool) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, false
	}
	return lim.Cur, true
}
