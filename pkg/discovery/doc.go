// Package discovery is the client side of the registry that every service uses, against the
// built-in hub and a Consul agent alike: a consul/api client, a go-kit sd.Registrar that retries
// and re-registers on its own, and sd.Instancers that log their dependencies' comings and goings,
// one of which publishes only instances that agree on a metadata value (the data they serve).
// It must never depend on which backend answers, and knows nothing of any service's domain.
package discovery
