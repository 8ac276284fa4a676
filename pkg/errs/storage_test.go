package errs

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"testing"
)

func TestStorageClassNamesTheFailureNotThePath(t *testing.T) {
	const path = "/var/lib/gradebook/grading.db"
	for _, tc := range []struct {
		name  string
		err   error
		class string // "" for not a storage failure
	}{
		{"disk full", &fs.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}, "disk full"},
		{"quota", fmt.Errorf("commit: %w", &fs.PathError{Op: "write", Path: path, Err: syscall.EDQUOT}), "disk quota exceeded"},
		{"read-only", &fs.PathError{Op: "open", Path: path, Err: syscall.EROFS}, "read-only file system"},
		{"i/o", fmt.Errorf("fsync: %w", syscall.EIO), "i/o error"},
		{"file size limit", &fs.PathError{Op: "write", Path: path, Err: syscall.EFBIG}, "file size limit reached"},
		{"cause formatted with %s", fmt.Errorf("file resize error: %s", &fs.PathError{Op: "truncate", Path: path, Err: syscall.ENOSPC}), "disk full"},
		{"not the storage", errors.New("corrupt student record"), ""},
		{"errno text in the middle", errors.New("no space left on device: or so we hear, from a student's title"), ""},
		{"nil", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			class, ok := StorageClass(tc.err)
			if class != tc.class || ok != (tc.class != "") {
				t.Fatalf("StorageClass(%v) = %q, %v; want %q", tc.err, class, ok, tc.class)
			}
			err := Storage(tc.err)
			if tc.class == "" {
				if err != tc.err {
					t.Errorf("Storage(%v) = %v; want it unchanged", tc.err, err)
				}
				return
			}
			if err.Error() != "storage unavailable: "+tc.class || strings.Contains(err.Error(), path) {
				t.Errorf("Storage(%v) says %q; want \"storage unavailable: %s\"", tc.err, err, tc.class)
			}
			if !errors.Is(err, ErrUnavailable) || KindOf(err) != Unavailable || !errors.Is(err, tc.err) {
				t.Errorf("Storage(%v) is not ErrUnavailable wrapping its cause", tc.err)
			}
		})
	}
}
