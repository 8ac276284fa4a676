//go:build !linux

package service

// releaseExecutable does nothing where the executable's pages cannot be dropped as on Linux.
func releaseExecutable() (kB int, err error) { return 0, nil }
