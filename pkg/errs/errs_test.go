package errs

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindOf(t *testing.T) {
	tests := []struct {
		err  error
		want Kind
	}{
		{nil, OK},
		{New(ErrNotFound, "no such student"), NotFound},
		{fmt.Errorf("saving: %w", New(ErrUnavailable, "disk gone")), Unavailable},
		{FieldErrors{"score": "must be from 0 to 100"}, Invalid},
		{fmt.Errorf("%w: bad JSON", ErrInvalid), Invalid},
		{ErrConflict, Conflict},
		{ErrUnauthorized, Unauthorized},
		{errors.New("boom"), Internal},
	}
	for _, tt := range tests {
		if got := KindOf(tt.err); got != tt.want {
			t.Errorf("KindOf(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
}

func TestFieldErrorsSayEveryFieldInOrder(t *testing.T) {
	err := Fields(map[string]string{"type": "is required", "score": "must be a finite number"})
	if got, want := err.Error(), "invalid request; score: must be a finite number; type: is required"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if Fields(nil) != nil || Fields(map[string]string{}) != nil {
		t.Error("no problems must be no error")
	}
}
