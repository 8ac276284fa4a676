package grading

import (
	"fmt"
	"strconv"
)

// ParseStudentID reads a student ID as it appears in a path: only the canonical decimal form of a
// positive int, so that one student has one address. "01", "+1", "1_0", "0x1", " 1" and "1.0"
// name no student (ok is false), and every transport answers them as it answers an unknown ID.
func ParseStudentID(s string) (id int, ok bool) {
	if s == "" || len(s) > 19 || s[0] < '1' || s[0] > '9' {
		return 0, false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	id, err := strconv.Atoi(s)
	return id, err == nil
}

// ParseScore reads a score as a person types it into a form: decimal digits, optionally a point
// and more digits ("87", "87.5", "0.25"). Anything strconv.ParseFloat would also take ("1_0",
// "0x1p4", "1e2", "+5", "Inf", "NaN", ".5", "5.") is refused, so that what is stored is what the
// person meant to type. Its range is Grade.Valid's business.
func ParseScore(s string) (float64, error) {
	digits, point := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !point && digits > 0 && i < len(s)-1:
			point = true
		default:
			return 0, fmt.Errorf("must be a number such as 87 or 87.5, written with digits and at most one decimal point")
		}
	}
	if digits == 0 || len(s) > 32 {
		return 0, fmt.Errorf("must be a number such as 87 or 87.5, written with digits and at most one decimal point")
	}
	score, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("must be a number such as 87 or 87.5")
	}
	return score, nil
}
