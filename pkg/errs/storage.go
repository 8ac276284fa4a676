package errs

import (
	"errors"
	"strings"
	"syscall"
)

// storageClasses names the operating-system errors that mean the storage itself cannot take a
// write (rather than that the program asked for something wrong), each with the words an answer
// uses for it. The order matters only for an error that wraps several.
var storageClasses = []struct {
	errno syscall.Errno
	class string
}{
	{syscall.ENOSPC, "disk full"},
	{syscall.EDQUOT, "disk quota exceeded"},
	{syscall.EFBIG, "file size limit reached"},
	{syscall.EROFS, "read-only file system"},
	{syscall.EIO, "i/o error"},
	{syscall.EACCES, "permission denied"},
	{syscall.EPERM, "permission denied"},
}

// StorageClass tells whether err is a failure of the storage under a store (a full disk or
// quota, a file size limit, a read-only or failing file system, lost permissions) and names its
// class in a few words: "disk full", "read-only file system", "i/o error"... ok is false for
// any other error.
//
// The errno is found with errors.Is, or else by its text ("no space left on device") at the end
// of the message: some libraries format the cause with %s rather than wrap it (bbolt's "file
// resize error: truncate ...: file too large"), and such a failure is still the disk's.
func StorageClass(err error) (class string, ok bool) {
	if err == nil {
		return "", false
	}
	for _, c := range storageClasses {
		if errors.Is(err, c.errno) {
			return c.class, true
		}
	}
	msg := err.Error()
	for _, c := range storageClasses {
		if strings.HasSuffix(msg, ": "+c.errno.Error()) {
			return c.class, true
		}
	}
	return "", false
}

// StorageError is a store that cannot be used right now: an ErrUnavailable whose message,
// "storage unavailable: <class>", is fit for an answer (it never holds a file path, an address
// or any other detail), while Cause keeps the whole story for the service's log.
type StorageError struct {
	Class string // "disk full", "database unreachable"...; empty for no class
	Cause error
}

// Error is "storage unavailable: <class>", or "storage unavailable" without a class.
func (e *StorageError) Error() string {
	if e.Class == "" {
		return "storage unavailable"
	}
	return "storage unavailable: " + e.Class
}

// Unwrap lets errors.Is see both ErrUnavailable and the cause.
func (e *StorageError) Unwrap() []error {
	if e.Cause == nil {
		return []error{ErrUnavailable}
	}
	return []error{ErrUnavailable, e.Cause}
}

// Storage returns err as a *StorageError when StorageClass recognises it, and err unchanged
// otherwise (nil stays nil).
func Storage(err error) error {
	class, ok := StorageClass(err)
	if !ok {
		return err
	}
	return &StorageError{Class: class, Cause: err}
}
