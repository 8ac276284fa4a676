package httpx

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// TestReadBody: a body read whole is returned; one over the limit is a 413; one that cannot be
// read to its end (cut off by the read deadline) is the client's failure, a 400, never a 500.
func TestReadBody(t *testing.T) {
	tests := []struct {
		name   string
		body   io.Reader
		status int
	}{
		{"whole", strings.NewReader("hello"), 0},
		{"over the limit", strings.NewReader(strings.Repeat("x", MaxBody+1)), http.StatusRequestEntityTooLarge},
		{"cut off", io.MultiReader(strings.NewReader("{"), errReader{os.ErrDeadlineExceeded}), http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			b, err := ReadBody(w, httptest.NewRequest(http.MethodPost, "/", tc.body))
			if tc.status == 0 {
				if err != nil || string(b) != "hello" {
					t.Fatalf("ReadBody = %q, %v", b, err)
				}
				return
			}
			if got := StatusOf(err); got != tc.status {
				t.Errorf("ReadBody's error %v maps to %d, want %d", err, got, tc.status)
			}
		})
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
