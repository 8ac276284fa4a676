package service

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
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
// A main that raised the collector's target above GOGC=100 (the hub does, to collect less often
// under load) gets it only while the heap is large enough for it to matter: see
// raisedGCPercentByHeap. An explicit GOGC in the environment is left exactly as it is.
func LimitMemory(getenv func(string) string) {
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit)
	}
	if getenv("GOGC") == "" {
		if percent := debug.SetGCPercent(100); percent > 100 {
			raisedGCPercentByHeap(percent)
		} else {
			debug.SetGCPercent(percent)
		}
	}
}

// minHeapGoal is the Go runtime's smallest heap goal at GOGC=100 (defaultHeapMinimum); at
// GOGC=p it is p/100 times this.
const minHeapGoal = 4 << 20

// raisedGCPercentByHeap runs the collector at GOGC=percent (> 100) only while the heap goal
// that percent gives is above the runtime's minimum for it, and at GOGC=100 below that.
//
// The runtime never lets the heap goal fall under 4 MB × GOGC/100: 16 MB at the hub's 400. An
// idle service's live heap is 1–3 MB, so at 400 it would grow to 16 MB of garbage before its
// first collection and keep that much resident, where GOGC=100 collects at 4 MB. Under load the
// live heap and stacks are larger and the raised percent takes over, which is where it saves
// CPU. After each collection (a finalizer, re-armed each time) the percent is chosen again from
// the live heap, stacks and globals the runtime reports.
func raisedGCPercentByHeap(percent int) {
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}
	current := 100
	var arm func()
	arm = func() {
		runtime.SetFinalizer(&gcCycle{}, func(*gcCycle) {
			metrics.Read(samples)
			var live, roots uint64
			for i, s := range samples {
				if s.Value.Kind() != metrics.KindUint64 {
					continue
				}
				if i == 0 {
					live = s.Value.Uint64()
				} else {
					roots += s.Value.Uint64()
				}
			}
			// The runtime's goal at GOGC=p: live + (live + stacks + globals)·p/100, at least
			// minHeapGoal·p/100.
			want := 100
			if live+(live+roots)*uint64(percent)/100 >= minHeapGoal*uint64(percent)/100 {
				want = percent
			}
			if want != current {
				debug.SetGCPercent(want)
				current = want
			}
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
