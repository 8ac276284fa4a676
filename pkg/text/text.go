// Package text holds the string helpers the services share for what they show and log: cutting a
// string to a size without splitting a UTF-8 character, and counting things in words. It must never allocate more than the
// result it returns.
package text

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Truncate returns s cut to at most n bytes, at a rune boundary, so that a multi-byte character
// is never split into invalid UTF-8.
func Truncate(s string, n int) string {
	if n < 0 {
		n = 0
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Clip is Truncate with a trailing "…" when anything was cut, for text shown to people.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return Truncate(s, n) + "…"
}

// Count is n followed by noun, in the plural unless n is 1: "1 instance", "2 instances". Nouns
// whose plural is not noun+"s" need another function.
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// Problem says what makes s unfit for one line of text that people read (a name, a title, an ID),
// or "" when nothing does: invalid UTF-8 (which encoding/json would silently replace, and
// PostgreSQL refuses) and control characters (C0 including NUL, tab and newline, DEL, and C1:
// unicode.IsControl), none of which belongs in a one-line name and some of which (NUL, ESC) can
// break a store or the terminal that shows the text. Every service applies it to the names it
// keeps, so that every transport and every store agree on them.
func Problem(s string) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8 text"
	}
	for i, r := range s {
		if unicode.IsControl(r) {
			return fmt.Sprintf("must not contain control characters (found U+%04X at byte %d)", r, i)
		}
	}
	return ""
}
