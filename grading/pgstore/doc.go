// Package pgstore is grading's shared store: students, grades, their history and
// Idempotency-Keys in a PostgreSQL database, so that any number of stateless grading instances
// serve the same data. It implements grading.Store and grading.Pinger, and migrates its own
// schema (versioned SQL files embedded in the binary) when it opens. Every guarantee that spans
// instances (one grade per Idempotency-Key, one demo seed, one migration) is enforced inside the
// database, never by state in a process. It must never print or return the database password,
// and never acknowledge a write before PostgreSQL has committed it.
package pgstore
