// Package prometheus runs the Prometheus server pinned in tools/prometheus: it builds the binary
// once per pin and Go version into the user's cache directory (through toolbuild), writes the
// configuration that discovers every gradebook service through the registry (the hub or Consul:
// the same configuration, only the server address differs) and scrapes their HTTP instances, with
// the recording and alerting rules of rules.yml beside it, and waits until Prometheus answers its
// API. promtool, pinned in tools/promtool at the same release, checks and unit-tests the rules
// (rules_test.yml) in this package's tests. The launcher ("gradebook prometheus", "gradebook up
// -monitoring") and the tests use it, so that they run the same program the same way. It never
// starts anything on its own and keeps no state.
package prometheus
