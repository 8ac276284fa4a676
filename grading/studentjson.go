package grading

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// UnmarshalStudent decodes a student's JSON into s, exactly as json.Unmarshal(data, s) does. It
// is how a student is read where it is read most: the embedded store's records and the client's
// answers from grading, both written by encoding/json. That shape (the Student's own keys, each
// once, strings without escapes, no nulls) it reads in one pass without reflection; anything
// else, and any s that is not the zero Student, goes to json.Unmarshal, which then decides and
// words any error. FuzzUnmarshalStudent checks that both give the same student.
func UnmarshalStudent(data []byte, s *Student) error {
	if s.ID == 0 && s.FirstName == "" && s.LastName == "" && s.Grades == nil && s.Average == nil {
		d := studentDecoder{buf: data}
		if st, ok := d.student(); ok {
			*s = st
			return nil
		}
	}
	return json.Unmarshal(data, s)
}

// studentDecoder is UnmarshalStudent's position in the data. Each of its methods answers ok
// false as soon as the data leaves the shape it reads; the caller then falls back.
type studentDecoder struct {
	buf []byte
	i   int
}

func (d *studentDecoder) student() (Student, bool) {
	var s Student
	var seen [5]bool
	ok := d.object(func(key []byte) bool {
		k := -1
		switch string(key) {
		case "id":
			k = 0
		case "firstName":
			k = 1
		case "lastName":
			k = 2
		case "grades":
			k = 3
		case "average":
			k = 4
		}
		if k < 0 || seen[k] {
			return false
		}
		seen[k] = true
		var ok bool
		switch k {
		case 0:
			s.ID, ok = d.int()
		case 1:
			s.FirstName, ok = d.string()
		case 2:
			s.LastName, ok = d.string()
		case 3:
			s.Grades, ok = d.grades()
		case 4:
			var f float64
			if f, ok = d.float(); ok {
				s.Average = &f
			}
		}
		return ok
	})
	if !ok {
		return Student{}, false
	}
	d.space()
	return s, d.i == len(d.buf)
}

func (d *studentDecoder) grades() ([]Grade, bool) {
	d.space()
	if !d.consume('[') {
		return nil, false
	}
	// Every grade is an object: the braces left are a bound on the grades.
	grades := make([]Grade, 0, min(bytes.Count(d.buf[d.i:], []byte{'{'}), 64))
	d.space()
	if d.consume(']') {
		return grades, true
	}
	for {
		g, ok := d.grade()
		if !ok {
			return nil, false
		}
		grades = append(grades, g)
		d.space()
		if d.consume(']') {
			return grades, true
		}
		if !d.consume(',') {
			return nil, false
		}
	}
}

func (d *studentDecoder) grade() (Grade, bool) {
	var g Grade
	var seen [7]bool
	ok := d.object(func(key []byte) bool {
		k := -1
		switch string(key) {
		case "id":
			k = 0
		case "version":
			k = 1
		case "title":
			k = 2
		case "type":
			k = 3
		case "score":
			k = 4
		case "enteredBy":
			k = 5
		case "enteredAt":
			k = 6
		}
		if k < 0 || seen[k] {
			return false
		}
		seen[k] = true
		var ok bool
		switch k {
		case 0:
			g.ID, ok = d.int()
		case 1:
			g.Version, ok = d.int()
		case 2:
			g.Title, ok = d.string()
		case 3:
			g.Type, ok = d.string()
		case 4:
			g.Score, ok = d.float()
		case 5:
			g.EnteredBy, ok = d.string()
		case 6:
			d.space()
			start := d.i
			if _, ok = d.rawString(); ok {
				// time.Time's own decoding, on the quoted text, as encoding/json calls it.
				ok = g.EnteredAt.UnmarshalJSON(d.buf[start:d.i]) == nil
			}
		}
		return ok
	})
	return g, ok
}

// object reads an object, calling field for each key with the position just after its colon;
// field reads the value.
func (d *studentDecoder) object(field func(key []byte) bool) bool {
	d.space()
	if !d.consume('{') {
		return false
	}
	d.space()
	if d.consume('}') {
		return true
	}
	for {
		d.space()
		key, ok := d.rawString()
		if !ok {
			return false
		}
		d.space()
		if !d.consume(':') || !field(key) {
			return false
		}
		d.space()
		if d.consume('}') {
			return true
		}
		if !d.consume(',') {
			return false
		}
	}
}

// string reads a string value.
func (d *studentDecoder) string() (string, bool) {
	d.space()
	b, ok := d.rawString()
	return string(b), ok
}

// rawString reads a string and returns its contents. Only strings without escapes and with
// valid UTF-8 are read (encoding/json would rewrite invalid UTF-8, and escapes need unquoting).
func (d *studentDecoder) rawString() ([]byte, bool) {
	if !d.consume('"') {
		return nil, false
	}
	start := d.i
	ascii := true
	for ; d.i < len(d.buf); d.i++ {
		switch c := d.buf[d.i]; {
		case c == '"':
			s := d.buf[start:d.i]
			d.i++
			return s, ascii || utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// int reads an integer as encoding/json reads one into an int: no fraction, no exponent.
func (d *studentDecoder) int() (int, bool) {
	d.space()
	start := d.i
	d.consume('-')
	if !d.digits() {
		return 0, false
	}
	if d.i < len(d.buf) {
		if c := d.buf[d.i]; c == '.' || c == 'e' || c == 'E' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(d.buf[start:d.i]), 10, 0)
	return int(n), err == nil
}

// float reads a number as encoding/json reads one into a float64.
func (d *studentDecoder) float() (float64, bool) {
	d.space()
	start := d.i
	d.consume('-')
	if !d.digits() {
		return 0, false
	}
	if d.consume('.') && !d.anyDigits() {
		return 0, false
	}
	if d.consume('e') || d.consume('E') {
		if !d.consume('+') {
			d.consume('-')
		}
		if !d.anyDigits() {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(d.buf[start:d.i]), 64)
	return f, err == nil
}

// digits reads the integer part of a number: 0, or a digit 1-9 followed by any digits.
func (d *studentDecoder) digits() bool {
	if d.consume('0') {
		return true
	}
	if d.i >= len(d.buf) || d.buf[d.i] < '1' || d.buf[d.i] > '9' {
		return false
	}
	return d.anyDigits()
}

// anyDigits reads one digit or more.
func (d *studentDecoder) anyDigits() bool {
	start := d.i
	for d.i < len(d.buf) && d.buf[d.i] >= '0' && d.buf[d.i] <= '9' {
		d.i++
	}
	return d.i > start
}

func (d *studentDecoder) space() {
	for d.i < len(d.buf) {
		switch d.buf[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *studentDecoder) consume(c byte) bool {
	if d.i < len(d.buf) && d.buf[d.i] == c {
		d.i++
		return true
	}
	return false
}

// AppendJSON appends the student's JSON to b: the very bytes json.Marshal writes for it (which
// FuzzStudentAppendJSON checks), without reflection. Like json.Marshal it fails on a score or
// average that is NaN or infinite and on a time outside years 0-9999; b is then returned as is.
func (s Student) AppendJSON(b []byte) ([]byte, error) {
	in := b
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, int64(s.ID), 10)
	b = append(b, `,"firstName":`...)
	b = appendJSONString(b, s.FirstName)
	b = append(b, `,"lastName":`...)
	b = appendJSONString(b, s.LastName)
	b = append(b, `,"grades":`...)
	if s.Grades == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, g := range s.Grades {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = g.appendJSON(b); err != nil {
				return in, err
			}
		}
		b = append(b, ']')
	}
	if s.Average != nil {
		b = append(b, `,"average":`...)
		var err error
		if b, err = appendJSONFloat(b, *s.Average); err != nil {
			return in, err
		}
	}
	return append(b, '}'), nil
}

func (g Grade) appendJSON(b []byte) ([]byte, error) {
	b = append(b, '{')
	if g.ID != 0 {
		b = append(b, `"id":`...)
		b = strconv.AppendInt(b, int64(g.ID), 10)
		b = append(b, ',')
	}
	if g.Version != 0 {
		b = append(b, `"version":`...)
		b = strconv.AppendInt(b, int64(g.Version), 10)
		b = append(b, ',')
	}
	b = append(b, `"title":`...)
	b = appendJSONString(b, g.Title)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, g.Type)
	b = append(b, `,"score":`...)
	var err error
	if b, err = appendJSONFloat(b, g.Score); err != nil {
		return b, err
	}
	if g.EnteredBy != "" {
		b = append(b, `,"enteredBy":`...)
		b = appendJSONString(b, g.EnteredBy)
	}
	if !g.EnteredAt.IsZero() {
		b = append(b, `,"enteredAt":"`...)
		t, err := g.EnteredAt.AppendText(b)
		if err != nil {
			return b, err
		}
		b = append(t, '"')
	}
	return append(b, '}'), nil
}

// appendJSONFloat writes f as encoding/json does: the shortest form that reads back as f, with
// an exponent only for very small or very large magnitudes.
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, &json.UnsupportedValueError{Str: strconv.FormatFloat(f, 'g', -1, 64)}
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// appendJSONString writes s quoted as encoding/json does by default: the HTML-sensitive <, >
// and &, U+2028 and U+2029 escaped, invalid UTF-8 as U+FFFD. Strings that need none of it (most
// names and titles) are copied as they are; the others go through encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return appendJSONStringSlow(b, s)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return appendJSONStringSlow(b, s)
		}
		i += size
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendJSONStringSlow(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}
