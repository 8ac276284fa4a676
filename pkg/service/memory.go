package service

import "runtime/debug"

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
func LimitMemory(getenv func(string) string) {
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit)
	}
}
