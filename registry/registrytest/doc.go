// Package registrytest holds test helpers for code that talks to a registry: a built-in hub started
// in-process, a real Consul dev agent built from tools/consul, the Backend description that states
// in one place how the two legitimately differ, and a check target whose health can be switched.
// It is imported only by tests; it must never be imported by production code.
package registrytest
