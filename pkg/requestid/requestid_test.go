package requestid

import (
	"context"
	"strings"
	"testing"
)

func TestContextCarriesTheID(t *testing.T) {
	if got := FromContext(context.Background()); got != "" {
		t.Errorf("an empty context carries %q", got)
	}
	if got := FromContext(NewContext(context.Background(), "req-42")); got != "req-42" {
		t.Errorf("FromContext = %q, want req-42", got)
	}
	a, b := New(), New()
	if a == b || !Valid(a) || len(a) != 24 {
		t.Errorf("New() = %q then %q; want two different valid 24-hex-digit IDs", a, b)
	}
}

func TestValid(t *testing.T) {
	for id, want := range map[string]bool{
		"abc-123":                true,
		"":                       false,
		strings.Repeat("x", 128): true,
		strings.Repeat("x", 129): false,
		"a\r\nX-Injected: 1":     false,
		"line\nbreak":            false,
	} {
		if got := Valid(id); got != want {
			t.Errorf("Valid(%q) = %v, want %v", id, got, want)
		}
	}
}
