package httpx

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gradebook/gradebook/pkg/errs"
)

// ReadBody reads r's whole body, allowing at most MaxBody bytes. A body over the limit is a
// *http.MaxBytesError (413 through WriteError); one that cannot be read to its end, cut off by
// the server's read deadline or by the client going away, wraps errs.ErrInvalid (400): the
// client's failure, which must not count or be logged as the server's own.
func ReadBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err == nil {
		return b, nil
	}
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		return nil, err
	}
	return nil, fmt.Errorf("%w: the request body could not be read to its end: %v", errs.ErrInvalid, err)
}
