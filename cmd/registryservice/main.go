// Command registryservice runs gradebook's registry: a Consul-compatible hub with health checks,
// a status page and the course's original registration protocol (POST/DELETE /services).
package main

import (
	"github.com/gradebook/gradebook/pkg/service"
	"github.com/gradebook/gradebook/registry"
)

func main() { service.Main("registryservice", registry.Run) }
