// Package boltstore is grading's embedded store: every student, grade, history entry and
// Idempotency-Key in one crash-safe bbolt file, for a single grading instance with no database
// server to run. It implements grading.Store and grading.Pinger and nothing else; it must never
// acknowledge a write before bbolt has fsynced it.
package boltstore
