//go:build !unix

package netx

// FileLimit is the process's soft limit on open files, and whether it is known: it is not on
// this system.
func FileLimit() (uint64, bool) { return 0, false }
