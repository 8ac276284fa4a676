package service

import (
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// MemoryLimit is the soft limit on the Go runtime's memory (heap, stacks and the runtime's own)
// that a service's process sets unless GOMEMLIMIT is set. A service needs a few tens of MB; under
// a flood of clients, thousands of connections each hold buffers the server cannot do without,
// and the collector, left to its default pace, lets the heap grow to twice what is live (five
// times at the hub's GOGC) before it collects. Near the limit it collects sooner instead, so
// that 5,000 slow connections keep the portal under 200 MB. It is soft: a service whose live
// memory outgrows it keeps running, with the collector working harder (at most about half of the
// CPU), and GOMEMLIMIT (a size, or "off") replaces it.
const MemoryLimit = 160 << 20

// LimitMemory sets the process's soft memory limit to MemoryLimit, unless getenv("GOMEMLIMIT")
// sets another. It is for main functions, not Run: the setting is the whole process's.
//
// Unless getenv("GOGC") sets the collector's target, it also paces the collector by load (see
// paceGCByLoad): GOGC=100 while the process is idle, BusyGCPercent (or the higher GOGC its main
// set, as the hub's does) while it is busy. An explicit GOGC is left exactly as it is.
func LimitMemory(getenv func(string) string) {
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit)
	}
	if getenv("GOGC") == "" {
		busy := max(debug.SetGCPercent(100), BusyGCPercent)
		paceGCByLoad(busy)
	}
}

// BusyGCPercent is the collector's target (GOGC) while a service is busy.
//
// A service's live heap is small (1-3 MB) and what it allocates per request is short-lived, so at
// GOGC=100 the heap goal is the runtime's least, 4 MB, and under load the collector runs dozens
// of times a second: with its write barriers, assists and the cache it sweeps out, it took a
// fifth of the CPU of a gateway request across the system. At 400 the goal is 16 MB and a
// collection comes a quarter as often. Idle, the goal goes back to 4 MB, so that an idle service
// does not grow to 16 MB of garbage before its first collection and keep it resident.
const BusyGCPercent = 400

// The pace at which collections mark a process busy or idle: two collections closer than
// gcBusyInterval (at GOGC=100, more than about 16 MB allocated a second) raise the target to
// the busy one; no collection for gcIdleInterval (at 400, less than about 8 MB a second)
// brings it back to 100. The gap between the two keeps it from flapping.
const (
	gcBusyInterval = 250 * time.Millisecond
	gcIdleInterval = 2 * time.Second
)

// paceGCByLoad runs the collector at GOGC=100, and at busy while collections come faster than
// gcBusyInterval apart, until none has come for gcIdleInterval. The choice is made after each
// collection, by the finalizer of an object made for it (re-armed each time), and while busy by
// a timer too: an idle process may not collect again for minutes, and it must not keep the busy
// goal (and the garbage it lets grow) meanwhile.
func paceGCByLoad(busy int) {
	var (
		mu      sync.Mutex
		current = 100
		last    = time.Now()
		idle    *time.Timer
	)
	set := func(want int) {
		if want != current {
			debug.SetGCPercent(want)
			current = want
		}
	}
	checkIdle := func() {
		mu.Lock()
		defer mu.Unlock()
		if current == 100 {
			return
		}
		if since := time.Since(last); since > gcIdleInterval {
			set(100)
		} else {
			idle.Reset(gcIdleInterval - since + time.Millisecond)
		}
	}
	var arm func()
	arm = func() {
		runtime.SetFinalizer(&gcCycle{}, func(*gcCycle) {
			mu.Lock()
			t := time.Now()
			since := t.Sub(last)
			last = t
			switch {
			case current == 100 && since < gcBusyInterval:
				set(busy)
				if idle == nil {
					idle = time.AfterFunc(gcIdleInterval, checkIdle)
				} else {
					idle.Reset(gcIdleInterval)
				}
			case current != 100 && since > gcIdleInterval:
				set(100)
			}
			mu.Unlock()
			arm()
		})
	}
	arm()
}

// gcCycle is an object whose finalizer runs after the collection that finds it unreachable.
type gcCycle struct{ _ *byte }

// ReleaseAtServe makes the first Serve in this process, once its listeners are up and before it
// logs "serving", give back what start-up left resident and an idle service does not use: the
// pages of the executable that start-up touched once (see releaseExecutable). Like LimitMemory
// it is for main functions, not Run: it changes the whole process, and a test or a program that
// runs a service among other work keeps its pages. It delays the serving line once, by reading
// /proc/self/smaps (about 2 ms on a busy machine), and costs the first requests a few hundred
// minor page faults (well under a millisecond) to map the code they run again.
//
// The heap is not collected and returned to the system here too (debug.FreeOSMemory): an idle
// service's anonymous memory is its heap growing to the collector's 4 MB least goal after
// start-up, not start-up's garbage, and measured so it saved nothing.
func ReleaseAtServe() { releaseAtServe.Store(true) }

var (
	releaseAtServe atomic.Bool
	releaseOnce    sync.Once
)

// releaseStartup does what ReleaseAtServe asked, once per process; it returns the resident kB
// given back, and false when there was nothing to do.
func releaseStartup() (kB int, done bool, err error) {
	if !releaseAtServe.Load() {
		return 0, false, nil
	}
	releaseOnce.Do(func() {
		kB, err = releaseExecutable()
		done = true
	})
	return kB, done, err
}
