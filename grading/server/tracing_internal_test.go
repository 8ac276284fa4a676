package server

import "testing"

// A statement's span is named after its verb, in capitals, whatever the statement's case.
func TestStatementSpanName(t *testing.T) {
	for verb, want := range map[string]string{
		"SELECT":   "postgresql SELECT",
		"select":   "postgresql SELECT",
		"Insert":   "postgresql INSERT",
		"WITH":     "postgresql WITH",
		"truncate": "postgresql TRUNCATE",
		"":         "postgresql ",
	} {
		if got := statementSpanName(verb); got != want {
			t.Errorf("statementSpanName(%q) = %q, want %q", verb, got, want)
		}
	}
}
