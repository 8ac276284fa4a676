package httpx

import (
	"errors"
	"net/http"

	"github.com/gradebook/gradebook/pkg/errs"
)

// statusOfKind is the one table that maps error kinds to HTTP statuses.
var statusOfKind = map[errs.Kind]int{
	errs.OK:           http.StatusOK,
	errs.Invalid:      http.StatusBadRequest,
	errs.NotFound:     http.StatusNotFound,
	errs.Conflict:     http.StatusConflict,
	errs.Unauthorized: http.StatusUnauthorized,
	errs.Unavailable:  http.StatusServiceUnavailable,
	errs.Internal:     http.StatusInternalServerError,
}

// StatusOf maps an error to the HTTP status a client should see: a body over the limit is 413,
// and everything else follows the error's kind.
func StatusOf(err error) int {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	return statusOfKind[errs.KindOf(err)]
}

// ErrorBody is the JSON shape of every error answer.
type ErrorBody struct {
	Error string `json:"error"`
	// Fields names the invalid fields of a request, when there are any.
	Fields map[string]string `json:"fields,omitempty"`
}

// WriteError writes err as {"error": ...} with the status StatusOf gives. Internal errors are
// reported without their details, which belong in the log.
func WriteError(w http.ResponseWriter, err error) {
	status := StatusOf(err)
	body := ErrorBody{Error: err.Error()}
	var fe errs.FieldErrors
	if errors.As(err, &fe) {
		body.Fields = fe
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		body.Error = "request body is larger than the 1 MiB limit"
	}
	// A storage failure is answered by its class alone, whatever context it was wrapped in on
	// its way up: the rest names files and addresses that belong in the log.
	var se *errs.StorageError
	if errors.As(err, &se) {
		body.Error = se.Error()
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
