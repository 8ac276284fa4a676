package httpx

import (
	"errors"
	"net/http"
)

// Error kinds shared by every service. Domain errors wrap one of them with %w, and StatusOf maps
// the kind to an HTTP status in this one place.
var (
	ErrInvalid      = errors.New("invalid")
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrUnauthorized = errors.New("unauthorized")
	ErrUnavailable  = errors.New("unavailable")
)

// StatusOf maps an error to the HTTP status a client should see.
func StatusOf(err error) int {
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return http.StatusOK
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// ErrorBody is the JSON shape of every error answer.
type ErrorBody struct {
	Error string `json:"error"`
	// Fields names the invalid fields of a request, when there are any.
	Fields map[string]string `json:"fields,omitempty"`
}

// FieldErrors is an ErrInvalid that names the invalid fields of a request.
type FieldErrors map[string]string

func (f FieldErrors) Error() string {
	msg := "invalid request"
	// Deterministic: report fields in sorted order.
	for _, k := range sortedKeys(f) {
		msg += "; " + k + ": " + f[k]
	}
	return msg
}

// Is makes errors.Is(FieldErrors{...}, ErrInvalid) true.
func (f FieldErrors) Is(target error) bool { return target == ErrInvalid }

// WriteError writes err as {"error": ...} with the status StatusOf gives. Internal errors are
// reported without their details, which belong in the log.
func WriteError(w http.ResponseWriter, err error) {
	status := StatusOf(err)
	body := ErrorBody{Error: err.Error()}
	var fe FieldErrors
	if errors.As(err, &fe) {
		body.Fields = fe
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		body.Error = "request body is larger than the 1 MiB limit"
	}
	if status == http.StatusInternalServerError {
		body.Error = "internal error"
	}
	WriteJSON(w, status, body)
}

// Error writes {"error": msg} with the given status.
func Error(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, ErrorBody{Error: msg})
}
