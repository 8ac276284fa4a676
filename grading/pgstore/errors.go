package pgstore

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/pkg/errs"
)

// errUnavailable is what every method answers while the database cannot be reached: an
// errs.ErrUnavailable, so that HTTP answers 503 and gRPC UNAVAILABLE, and a caller retries on
// another instance or later.
var errUnavailable error = &errs.StorageError{Class: "database unreachable"}

// unavailableError is errUnavailable with the reason kept for errors.As and the store's own log;
// its message stays "storage unavailable: database unreachable", the class of failure every store
// answers with, since the answer to a client is no place for the address of the database.
type unavailableError struct{ cause error }

func (e *unavailableError) Error() string   { return errUnavailable.Error() }
func (e *unavailableError) Unwrap() []error { return []error{errUnavailable, e.cause} }

// errNUL answers text that PostgreSQL cannot hold (a NUL character): the request's fault.
var errNUL error = errs.New(errs.ErrInvalid, "text must not contain NUL characters")

// unreachable tells whether err means the database could not be reached or could not answer in
// time, rather than that it refused what was asked: a connection that could not be made or
// broke, a timeout (the statement timeout included), or a server shutting down or out of room.
func unreachable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"): // connection exception
			return true
		case strings.HasPrefix(pgErr.Code, "28"): // the server refuses our credentials (changed under us)
			return true
		case strings.HasPrefix(pgErr.Code, "53"): // insufficient resources: too many connections, disk full
			return true
		case strings.HasPrefix(pgErr.Code, "57P"): // admin or crash shutdown, cannot connect now
			return true
		case pgErr.Code == "57014": // query canceled: the statement timeout
			return true
		case strings.HasPrefix(pgErr.Code, "58"): // system error: I/O
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr):
		return true
	case pgconn.Timeout(err), pgconn.SafeToRetry(err):
		return true
	case errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	return false
}

// domainError tells the errors that are answers of the domain, which pass through unchanged.
func domainError(err error) bool {
	return errors.Is(err, grading.ErrStudentNotFound) || errors.Is(err, grading.ErrIdempotencyConflict) || errors.Is(err, errNUL) ||
		errors.Is(err, grading.ErrGradeNotFound) || errors.Is(err, grading.ErrVersionMismatch) || errors.Is(err, grading.ErrStudentHasGrades)
}

// scrubbed is an error whose message has had the database password removed; errors.Is and As
// still see what it wraps.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// scrub returns err with every one of secrets removed from its message.
func scrub(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, s := range secrets {
		if s != "" {
			clean = strings.ReplaceAll(clean, s, "xxxxx")
		}
	}
	if clean == msg {
		return err
	}
	return &scrubbed{msg: clean, err: err}
}
