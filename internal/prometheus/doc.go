// Package prometheus runs the Prometheus server pinned in tools/prometheus: it builds the binary
// once per pin and Go version into the user's cache directory (through toolbuild), writes the
// configuration that discovers every gradebook service through the registry (the hub or Consul:
// the same configuration, only the server address differs) and scrapes their HTTP instances, and
// waits until Prometheus answers its API. The launcher ("gradebook prometheus", "gradebook up
// -monitoring") and the tests use it, so that they run the same program the same way. It never
// starts anything on its own and keeps no state.
package prometheus
