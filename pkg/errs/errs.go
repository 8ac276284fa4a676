// Package errs is the error vocabulary every gradebook service shares, free of any transport: a
// few kinds (invalid, not found, conflict, unauthorized, unavailable), a domain Error that
// carries one, and FieldErrors that name the invalid fields of a request. Domain packages return
// these; each transport maps the kinds to its own codes in exactly one table (httpx.StatusOf for
// HTTP, grpcx for gRPC). It must never import a transport.
package errs

import (
	"errors"
	"maps"
	"slices"
	"strings"
)

// The kinds. A domain error wraps one of them (errors.Is sees it), and a transport maps it.
var (
	ErrInvalid      = errors.New("invalid")
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrUnauthorized = errors.New("unauthorized")
	ErrUnavailable  = errors.New("unavailable")
)

// Kind names the kind of an error for logs and metric labels.
type Kind string

// Kind values, one per kind, plus OK for no error and Internal for anything else.
const (
	OK           Kind = "ok"
	Invalid      Kind = "invalid"
	NotFound     Kind = "not_found"
	Conflict     Kind = "conflict"
	Unauthorized Kind = "unauthorized"
	Unavailable  Kind = "unavailable"
	Internal     Kind = "internal"
)

// KindOf tells which kind err is. An error that wraps none of the kinds is Internal: a failure on
// the service's side, whose details belong in its log rather than in an answer.
func KindOf(err error) Kind {
	switch {
	case err == nil:
		return OK
	case errors.Is(err, ErrInvalid):
		return Invalid
	case errors.Is(err, ErrNotFound):
		return NotFound
	case errors.Is(err, ErrConflict):
		return Conflict
	case errors.Is(err, ErrUnauthorized):
		return Unauthorized
	case errors.Is(err, ErrUnavailable):
		return Unavailable
	default:
		return Internal
	}
}

// Error is a domain error: a message for people and the kind that decides how each transport
// answers it.
type Error struct {
	Msg  string
	Kind error // one of ErrInvalid, ErrNotFound, ...
}

// New returns an *Error of kind with msg.
func New(kind error, msg string) *Error { return &Error{Msg: msg, Kind: kind} }

func (e *Error) Error() string { return e.Msg }

// Unwrap lets errors.Is(err, ErrNotFound) and friends see the kind.
func (e *Error) Unwrap() error { return e.Kind }

// FieldErrors is an ErrInvalid that names the invalid fields of a request, each with what is
// wrong with it.
type FieldErrors map[string]string

func (f FieldErrors) Error() string {
	var b strings.Builder
	b.WriteString("invalid request")
	// Deterministic: fields in sorted order.
	for _, k := range slices.Sorted(maps.Keys(f)) {
		b.WriteString("; " + k + ": " + f[k])
	}
	return b.String()
}

// Is makes errors.Is(FieldErrors{...}, ErrInvalid) true.
func (f FieldErrors) Is(target error) bool { return target == ErrInvalid }

// Fields returns problems as an error, or nil when there are none.
func Fields(problems map[string]string) error {
	if len(problems) == 0 {
		return nil
	}
	return FieldErrors(problems)
}
