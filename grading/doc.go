// Package grading is the grading service: students, their grades and averages, kept in a Store
// (a bbolt file, or PostgreSQL) and served through go-kit's service, endpoint and transport layers.
// Callers reach it through the Service interface, locally or through a transport's client, and
// must never be able to tell the two apart; it must never keep state outside its Store.
package grading
