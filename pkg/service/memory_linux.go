package service

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// releaseExecutable drops this process's page-table entries for the read-only parts of its own
// executable (code and read-only data) and returns how many kB of them were resident.
//
// Start-up touches most of a Go binary once: every package's init function, type descriptors
// and function tables, spread over the whole image, and the kernel maps each touched page
// together with its neighbours (64 kB of fault-around). Those pages stay counted in the
// process's resident set although an idle service never runs most of that code again. They
// are file pages, so dropping the mapping loses nothing: they stay in the page cache, shared
// with every other process running the same binary, and the code a service does run faults
// them back in (minor faults, no I/O). Only mappings of the executable that are not writable
// and hold no private copy of a page (smaps' Anonymous: 0 kB, so nothing was relocated or
// patched in them, as a debugger's breakpoint would) are dropped.
func releaseExecutable() (kB int, err error) {
	exe, err := os.Stat("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	st, ok := exe.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("no inode for /proc/self/exe")
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	type mapping struct {
		start, end uintptr
		rss        int
	}
	var drop []mapping
	var cur *mapping
	var anonymous bool
	flush := func() {
		if cur != nil && !anonymous {
			drop = append(drop, *cur)
		}
		cur, anonymous = nil, false
	}
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if !strings.HasSuffix(fields[0], ":") { // a mapping's header: range perms offset dev inode [path]
			flush()
			if len(fields) < 6 || fields[1][1] == 'w' {
				continue
			}
			if inode, err := strconv.ParseUint(fields[4], 10, 64); err != nil || inode != st.Ino {
				continue
			}
			start, end, ok := strings.Cut(fields[0], "-")
			s, err1 := strconv.ParseUint(start, 16, 64)
			e, err2 := strconv.ParseUint(end, 16, 64)
			if !ok || err1 != nil || err2 != nil {
				continue
			}
			cur = &mapping{start: uintptr(s), end: uintptr(e)}
			continue
		}
		if cur == nil || len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "Rss:":
			cur.rss, _ = strconv.Atoi(fields[1])
		case "Anonymous:":
			anonymous = fields[1] != "0"
		}
	}
	flush()
	for _, m := range drop {
		if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, m.start, m.end-m.start, syscall.MADV_DONTNEED); errno != 0 {
			return kB, fmt.Errorf("madvise: %w", errno)
		}
		kB += m.rss
	}
	return kB, nil
}
