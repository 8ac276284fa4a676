package grading_test

import (
	"math"
	"regexp"
	"strconv"
	"testing"

	"github.com/gradebook/gradebook/grading"
)

// Student IDs an attacker or a sloppy client wrote differently: each named student 1 (or 10)
// through strconv.Atoi, so one student had many addresses.
var nonCanonicalIDs = []string{"01", "+1", "1_0", "0x1", "0X1", "0b1", "0o1", "1.0", "1e0", " 1", "1 ", "-1", "0", "00", "-0", "", "١", "１", "99999999999999999999"}

func TestParseStudentIDTakesOnlyCanonicalDecimals(t *testing.T) {
	for _, s := range []string{"1", "9", "10", "12345", strconv.Itoa(math.MaxInt)} {
		if id, ok := grading.ParseStudentID(s); !ok || strconv.Itoa(id) != s {
			t.Errorf("ParseStudentID(%q) = %d, %v; want it read", s, id, ok)
		}
	}
	for _, s := range nonCanonicalIDs {
		if id, ok := grading.ParseStudentID(s); ok {
			t.Errorf("ParseStudentID(%q) = %d; want no student", s, id)
		}
	}
}

// Scores a form accepted through strconv.ParseFloat that no one types on purpose: "1_0" was 10.
var lenientScores = []string{"1_0", "0x1p4", "0x10", "1e2", "1E1", "+5", "-0", "-5", "Inf", "+Inf", "NaN", "nan", ".5", "5.", "5..0", "5.0.0", " 5", "5 ", "5,5", "٥", "", "."}

func TestParseScoreIsStrict(t *testing.T) {
	for s, want := range map[string]float64{"0": 0, "87": 87, "87.5": 87.5, "100": 100, "0.25": 0.25, "007": 7, "100.00": 100} {
		if got, err := grading.ParseScore(s); err != nil || got != want {
			t.Errorf("ParseScore(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range lenientScores {
		if got, err := grading.ParseScore(s); err == nil {
			t.Errorf("ParseScore(%q) = %v; want an error", s, got)
		}
	}
}

func FuzzParseStudentID(f *testing.F) {
	for _, s := range append([]string{"1", "42"}, nonCanonicalIDs...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := grading.ParseStudentID(s)
		if ok && (id <= 0 || strconv.Itoa(id) != s) {
			t.Fatalf("ParseStudentID(%q) = %d: not its canonical form", s, id)
		}
		if n, err := strconv.Atoi(s); err == nil && n > 0 && strconv.Itoa(n) == s && !ok {
			t.Fatalf("ParseStudentID(%q) refused a canonical ID", s)
		}
	})
}

var scoreForm = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

func FuzzParseScore(f *testing.F) {
	for _, s := range append([]string{"87", "87.5", "0"}, lenientScores...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		score, err := grading.ParseScore(s)
		if err != nil {
			return
		}
		if !scoreForm.MatchString(s) || math.IsNaN(score) || math.IsInf(score, 0) || math.Signbit(score) {
			t.Fatalf("ParseScore(%q) = %v; want only digits with at most one point, read as a finite non-negative number", s, score)
		}
	})
}
