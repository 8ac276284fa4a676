// Package text holds the string helpers the services share for what they show and log: cutting a
// string to a size without splitting a UTF-8 character, and counting things in words. It must never allocate more than the
// result it returns.
package text

import (
	"strconv"
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
