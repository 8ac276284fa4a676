// Package gradingclient is how other services call grading: client endpoints for each of its
// transports (HTTP+JSON and gRPC) that return the very domain errors the local service does, and
// NewBalanced, which spreads calls over the instances an sd.Instancer reports, with a circuit
// breaker per instance and retries only where grading says a repeat is safe (reads, and grade
// posts that carry an Idempotency-Key). It must never import grading's server or store.
package gradingclient
