// Package pkg is the plumbing that gradebook's services share: configuration, the service
// lifecycle, HTTP helpers and middleware, metrics and discovery. It holds no business logic and
// no package-level state; each subpackage documents its own contract.
package pkg
