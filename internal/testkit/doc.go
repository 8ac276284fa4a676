// Package testkit is the one kit of test helpers that every package's tests share: polling with a
// deadline instead of sleeping, goleak options, percentiles and a control for timing figures,
// building a command of this module, a buffer safe for concurrent writers, a client that trickles
// a request body (SlowBody), and reading one sample of a Prometheus metric. It knows nothing of any service; helpers about registries live in
// registry/registrytest. Only tests import it.
package testkit
