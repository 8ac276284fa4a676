// Command registryservice runs gradebook's registry: a Consul-compatible hub with health checks,
// a status page and the course's original registration protocol (POST/DELETE /services).
package main

import (
	"os"
	"runtime/debug"

	"github.com/gradebook/gradebook/pkg/service"
	"github.com/gradebook/gradebook/registry"
)

func main() {
	// The hub's heap is small and almost all of it is garbage from health checks, so the default
	// GOGC=100 collects several times a second at a thousand checks per second. A larger target
	// costs a few MiB and cut the hub's CPU share by about a quarter in the 1,000-service test.
	// An explicit GOGC still wins. main does it, not registry.Run: it changes the whole process,
	// and Run also runs inside other programs (gradebook, tests).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(registry.GCPercent)
	}
	service.Main("registryservice", registry.Run)
}
