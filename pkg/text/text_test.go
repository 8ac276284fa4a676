package text

import (
	"testing"
	"unicode/utf8"
)

func TestTruncateAndClip(t *testing.T) {
	tests := []struct {
		s          string
		n          int
		trunc, cut string
	}{
		{"hello", 10, "hello", "hello"},
		{"hello", 5, "hello", "hello"},
		{"hello", 3, "hel", "hel…"},
		{"héllo", 2, "h", "h…"}, // é is two bytes: never split
		{"日本語", 4, "日", "日…"},
		{"abc", 0, "", "…"},
		{"abc", -1, "", "…"},
	}
	for _, tt := range tests {
		if got := Truncate(tt.s, tt.n); got != tt.trunc {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.trunc)
		}
		if got := Clip(tt.s, tt.n); got != tt.cut {
			t.Errorf("Clip(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.cut)
		}
	}
}

func FuzzTruncate(f *testing.F) {
	f.Add("héllo wörld", 3)
	f.Fuzz(func(t *testing.T, s string, n int) {
		got := Truncate(s, n)
		if len(got) > max(n, 0) && len(got) != len(s) {
			t.Fatalf("Truncate(%q, %d) is %d bytes", s, n, len(got))
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Truncate(%q, %d) = %q is not valid UTF-8", s, n, got)
		}
	})
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 instances", 1: "1 instance", 2: "2 instances"} {
		if got := Count(n, "instance"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestProblem(t *testing.T) {
	for s, want := range map[string]string{
		"Ann Lee":        "",
		"Zoë Ω":          "",
		"":               "",
		"a\x00b":         "must not contain control characters (found U+0000 at byte 1)",
		"\x1b[31mred":    "must not contain control characters (found U+001B at byte 0)",
		"tab\there":      "must not contain control characters (found U+0009 at byte 3)",
		"c1\u0085":       "must not contain control characters (found U+0085 at byte 2)",
		"del\x7f":        "must not contain control characters (found U+007F at byte 3)",
		"bad \xff utf-8": "must be valid UTF-8 text",
	} {
		if got := Problem(s); got != want {
			t.Errorf("Problem(%q) = %q, want %q", s, got, want)
		}
	}
}
