package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/gradebook/gradebook/pkg/errs"
)

// MaxBody is the largest request body any service accepts.
const MaxBody = 1 << 20

// JSONAppender is a value that writes its own JSON, the same bytes json.Marshal would write
// for it, without reflection: a service's most-written answers implement it.
type JSONAppender interface {
	AppendJSON(b []byte) ([]byte, error)
}

// jsonBufs are WriteJSON's buffers for JSONAppenders.
var jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	if a, ok := v.(JSONAppender); ok {
		buf := jsonBufs.Get().(*[]byte)
		b, err := a.AppendJSON((*buf)[:0])
		if err == nil {
			b = append(b, '\n')
			writeJSONBytes(w, status, b)
		}
		if cap(b) <= 64<<10 { // an outsized answer's buffer is not kept
			*buf = b
			jsonBufs.Put(buf)
		}
		if err == nil {
			return
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal error"}`)
	}
	writeJSONBytes(w, status, append(b, '\n'))
}

func writeJSONBytes(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
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
	b, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return fmt.Errorf("%w: reading the request body: %v", errs.ErrInvalid, err)
	}
	// encoding/json quietly replaces invalid UTF-8 in strings with U+FFFD, which would store
	// text nobody sent; such a body is refused instead, naming the field that holds the bytes.
	if !utf8.Valid(b) {
		if field, ok := InvalidUTF8Field(b); ok {
			return errs.FieldErrors{field: "must be valid UTF-8 text"}
		}
		// The invalid bytes are outside any string: malformed JSON, which decoding describes.
		if json.Valid(b) {
			return errs.FieldErrors{"body": "must be valid UTF-8 text"}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
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

// InvalidUTF8Field finds the first JSON string in b that holds invalid UTF-8 and names where it
// sits, the way a request's fields are named in errors: "title", "grades[2].title", "Meta.k" for
// a value, "Meta (a key)" for an object key, "body" for the top-level value. ok is false when no
// string holds invalid UTF-8 (including when b is not JSON before one is found); b's validity as
// a whole is the caller's to check first, with utf8.Valid.
func InvalidUTF8Field(b []byte) (field string, ok bool) {
	type level struct {
		array bool
		key   string // the current key of an object
		index int    // the next index of an array
	}
	var stack []level
	path := func() string {
		var sb strings.Builder
		for _, l := range stack {
			switch {
			case l.array:
				sb.WriteString("[" + strconv.Itoa(l.index-1) + "]")
			default:
				if sb.Len() > 0 {
					sb.WriteByte('.')
				}
				sb.WriteString(l.key)
			}
		}
		if sb.Len() == 0 {
			return "body"
		}
		return sb.String()
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	expectKey := false
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		raw := b[start:dec.InputOffset()]
		if d, isDelim := tok.(json.Delim); isDelim {
			switch d {
			case '{', '[':
				if n := len(stack); n > 0 && stack[n-1].array {
					stack[n-1].index++
				}
				stack = append(stack, level{array: d == '['})
				expectKey = d == '{'
			case '}', ']':
				stack = stack[:len(stack)-1]
				expectKey = len(stack) > 0 && !stack[len(stack)-1].array
			}
			continue
		}
		if expectKey {
			key, _ := tok.(string)
			if !utf8.Valid(raw) {
				stack = stack[:len(stack)-1]
				return path() + " (a key)", true
			}
			stack[len(stack)-1].key = key
			expectKey = false
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].array {
			stack[n-1].index++
		}
		if !utf8.Valid(raw) {
			return path(), true
		}
		expectKey = len(stack) > 0 && !stack[len(stack)-1].array
	}
}
