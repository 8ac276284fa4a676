package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gradebook/gradebook/pkg/errs"
)

// MaxBody is the largest request body any service accepts.
const MaxBody = 1 << 20

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// DecodeJSON reads one JSON value from r's body into v, allowing at most MaxBody bytes. Its
// errors wrap errs.ErrInvalid (or are *http.MaxBytesError), so WriteError answers 400 or 413 with a
// reason a person can act on.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeJSON(http.MaxBytesReader(w, r.Body, MaxBody), v)
}

// DecodeJSONBytes decodes one JSON value from b with the same errors as DecodeJSON.
func DecodeJSONBytes(b []byte, v any) error {
	return decodeJSON(bytes.NewReader(b), v)
}

func decodeJSON(body io.Reader, v any) error {
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return fmt.Errorf("%w: request body must hold a single JSON value", errs.ErrInvalid)
	}
	return nil
}

func describeJSONError(err error) error {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: request body is empty", errs.ErrInvalid)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: request body is truncated JSON", errs.ErrInvalid)
	case errors.As(err, &se):
		return fmt.Errorf("%w: malformed JSON at byte %d: %v", errs.ErrInvalid, se.Offset, se)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return fmt.Errorf("%w: %s must be %s, not %s", errs.ErrInvalid, field, te.Type, te.Value)
	default:
		return fmt.Errorf("%w: malformed JSON: %v", errs.ErrInvalid, err)
	}
}
