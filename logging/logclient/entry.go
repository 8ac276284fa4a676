package logclient

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gradebook/gradebook/pkg/text"
)

// Bounds on what the log service accepts, which the client keeps to so that its batches are not
// refused. A batch that breaks any of them is refused whole.
const (
	// MaxBatchEntries is the most entries one POST /v1/logs may carry.
	MaxBatchEntries = 1000
	// MaxEntryBytes bounds the JSON of one entry.
	MaxEntryBytes = 64 << 10
	// MaxFields bounds the extra fields of one entry.
	MaxFields = 128
	// MaxFieldNameLen bounds the name of a field, in bytes.
	MaxFieldNameLen = 128
)

// Entry is one log entry. Fields holds everything other than the five standard keys, as compact
// JSON values, so that an entry can be stored and served again without losing its types.
type Entry struct {
	Time     time.Time
	Service  string
	Instance string
	Level    string
	Msg      string
	Fields   map[string]json.RawMessage
}

// IsStandardKey reports whether k is one of the five keys every entry's JSON object has (time,
// service, instance, level and msg), which a field can never be.
func IsStandardKey(k string) bool {
	switch k {
	case "time", "service", "instance", "level", "msg":
		return true
	}
	return false
}

// MarshalJSON writes the entry as one flat JSON object on one line: the standard keys first, then
// the other fields in sorted order. Field values must be valid JSON; they are written compact.
func (e Entry) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(make([]byte, 0, e.SizeHint()))
}

// SizeHint is about how long the entry's JSON is, for a buffer it is appended to.
func (e Entry) SizeHint() int {
	n := 120 + len(e.Service) + len(e.Instance) + len(e.Msg)
	for k, v := range e.Fields {
		n += len(k) + len(v) + 4
	}
	return n
}

// AppendJSON appends the entry's JSON, as MarshalJSON writes it, to dst. On an error, dst is
// returned as it was.
func (e Entry) AppendJSON(dst []byte) ([]byte, error) {
	b := append(dst, `{"time":"`...)
	b = appendTime(b, e.Time)
	b = append(b, `","service":`...)
	b = appendJSONString(b, e.Service)
	b = append(b, `,"instance":`...)
	b = appendJSONString(b, e.Instance)
	b = append(b, `,"level":`...)
	b = appendJSONString(b, e.Level)
	b = append(b, `,"msg":`...)
	b = appendJSONString(b, e.Msg)
	if len(e.Fields) == 0 {
		return append(b, '}'), nil
	}
	var arr [16]string // the keys of a typical entry, without an allocation
	keys := arr[:0]
	for k := range e.Fields {
		if !IsStandardKey(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = append(b, ',')
		b = appendJSONString(b, k)
		b = append(b, ':')
		v := e.Fields[k]
		if isCompactScalar(v) {
			b = append(b, v...)
			continue
		}
		buf := bytes.NewBuffer(b)
		if err := json.Compact(buf, v); err != nil {
			return dst, fmt.Errorf("field %q: %w", k, err)
		}
		b = buf.Bytes()
	}
	return append(b, '}'), nil
}

// isCompactScalar reports whether v is a JSON string without escapes, a number, true, false or
// null, with no space around it: JSON that json.Compact would leave as it is. It is the quick
// answer for the values entries almost always hold; anything else goes through json.Compact.
func isCompactScalar(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	switch v[0] {
	case '"':
		if len(v) < 2 || v[len(v)-1] != '"' {
			return false
		}
		for _, c := range v[1 : len(v)-1] {
			if c < 0x20 || c == '"' || c == '\\' {
				return false
			}
		}
		return true
	case 't':
		return string(v) == "true"
	case 'f':
		return string(v) == "false"
	case 'n':
		return string(v) == "null"
	}
	return isJSONNumber(v)
}

// isJSONNumber reports whether v is exactly one JSON number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber(v []byte) bool {
	i := 0
	digits := func() int {
		start := i
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		return i - start
	}
	if i < len(v) && v[i] == '-' {
		i++
	}
	switch {
	case i < len(v) && v[i] == '0':
		i++
	case i < len(v) && v[i] >= '1' && v[i] <= '9':
		digits()
	default:
		return false
	}
	if i < len(v) && v[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(v)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Unlike encoding/json it leaves <, > and & alone
// (the lines are read by programs and by html/template, which escapes for itself); like it, it
// turns invalid UTF-8 into U+FFFD and escapes U+2028 and U+2029.
func appendJSONString(dst []byte, s string) []byte {
	n := len(dst)
	dst = slices.Grow(dst, len(s)+2)[:n+len(s)+2]
	dst[n] = '"'
	dst[n+1+len(s)] = '"'
	if copyPlainASCII(dst[n+1:n+1+len(s)], s) {
		return dst
	}
	return appendJSONStringEscaped(dst[:n], s)
}

// appendQuoted appends s between quotes as it is: s must need no escaping.
func appendQuoted(dst []byte, s string) []byte {
	n := len(dst)
	dst = slices.Grow(dst, len(s)+2)[:n+len(s)+2]
	dst[n] = '"'
	copy(dst[n+1:], s)
	dst[n+1+len(s)] = '"'
	return dst
}

// copyPlainASCII copies s to d, as long as s, while it is all printable ASCII other than the
// quote and the backslash, and reports whether it was: a JSON string as it is, as almost every
// key and value logged is. It reads and writes eight bytes at a time, the last word overlapping
// the one before it (four and four below eight bytes), so that a short string is looked at and
// copied in one pass without a call.
func copyPlainASCII(d []byte, s string) bool {
	d = d[:len(s)]
	switch {
	case len(s) >= 8:
		i := 0
		for ; i+8 <= len(s); i += 8 {
			x := load64(s[i:])
			if special8(x) {
				return false
			}
			binary.LittleEndian.PutUint64(d[i:], x)
		}
		if i < len(s) {
			x := load64(s[len(s)-8:])
			if special8(x) {
				return false
			}
			binary.LittleEndian.PutUint64(d[len(s)-8:], x)
		}
		return true
	case len(s) >= 4:
		x, y := load32(s), load32(s[len(s)-4:])
		if special8(uint64(x) | uint64(y)<<32) {
			return false
		}
		binary.LittleEndian.PutUint32(d, x)
		binary.LittleEndian.PutUint32(d[len(s)-4:], y)
		return true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			return false
		}
		d[i] = c
	}
	return true
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special8 reports whether any of the eight bytes in x is below 0x20, at or above 0x80, the quote
// or the backslash. An ASCII byte below 0x20 sets its high bit in x-0x2020…, one equal to c in
// (x^cc…)-0x0101…; a borrow into the next byte only comes from a byte that is itself special.
func special8(x uint64) bool {
	q := x ^ (ones * '"')
	bs := x ^ (ones * '\\')
	return ((x-ones*0x20)|(q-ones)|(bs-ones)|x)&highs != 0
}

// load64 and load32 read the first eight and four bytes of s, little-endian.
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

func load32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// appendJSONStringEscaped is appendJSONString for a string with something to escape or
// non-ASCII text in it.
func appendJSONStringEscaped(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// NormalizeLevel lower-cases a level and maps common aliases onto go-kit's four names.
func NormalizeLevel(lvl string) string {
	switch lvl {
	case "debug", "info", "warn", "error":
		return lvl // as go-kit's level values print
	}
	lvl = strings.ToLower(strings.TrimSpace(lvl))
	switch lvl {
	case "warning":
		return "warn"
	case "err", "fatal", "critical", "crit", "panic":
		return "error"
	}
	return lvl
}

// EntryFromKeyvals turns a go-kit log call into an Entry stamped with service and instance: "ts"
// becomes the time (now if absent), "service", "instance", "level" and "msg" their fields, and
// every other value is stringified the way logfmt would show it, except numbers and booleans,
// which stay JSON numbers and booleans. It keeps to MaxFields and MaxFieldNameLen.
func EntryFromKeyvals(keyvals []any, service, instance string, now time.Time) Entry {
	e := Entry{Time: now.UTC(), Service: service, Instance: instance}
	if len(keyvals)%2 == 1 {
		keyvals = append(keyvals[:len(keyvals):len(keyvals)], "(MISSING)")
	}
	for i := 0; i < len(keyvals); i += 2 {
		key := safeString(keyvals[i])
		val := keyvals[i+1]
		switch key {
		case "ts", "time":
			// go-kit's DefaultTimestampUTC yields a value that prints as RFC 3339, not a time.Time.
			if t, ok := val.(time.Time); ok {
				e.Time = t.UTC()
				continue
			}
			if pt, err := time.Parse(time.RFC3339Nano, safeString(val)); err == nil {
				e.Time = pt.UTC()
				continue
			}
			// Not a time: keep it as a field rather than lose it, under another name if its own
			// is the entry's "time".
			if key == "time" {
				key = "time_value"
			}
		case "service":
			if s := safeString(val); s != "" {
				e.Service = s
			}
			continue
		case "instance":
			if s := safeString(val); s != "" {
				e.Instance = s
			}
			continue
		case "level":
			e.Level = NormalizeLevel(safeString(val))
			continue
		case "msg":
			e.Msg = safeString(val)
			continue
		}
		if key == "" {
			key = "(EMPTY)"
		}
		if len(key) > MaxFieldNameLen {
			key = text.Truncate(key, MaxFieldNameLen)
		}
		if e.Fields == nil {
			e.Fields = make(map[string]json.RawMessage, len(keyvals)/2)
		} else if len(e.Fields) >= MaxFields {
			continue
		}
		e.Fields[key] = jsonValue(val)
	}
	return e
}

// jsonValue encodes a logged value: numbers and booleans as themselves, everything else as the
// string logfmt would print.
func jsonValue(v any) json.RawMessage { return appendJSONValue(nil, v) }

// safeString stringifies a logged value like logfmt does: errors by Error, Stringers by String,
// times in RFC 3339, and a panicking method (a nil pointer receiver, say) as "(PANIC=...)".
func safeString(v any) string {
	if s, ok := v.(string); ok {
		return s // most keys and values, without the deferred recover below
	}
	return safeStringSlow(v)
}

func safeStringSlow(v any) (s string) {
	defer func() {
		if r := recover(); r != nil {
			s = fmt.Sprintf("(PANIC=%v)", r)
		}
	}()
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case error:
		return x.Error()
	case fmt.Stringer:
		return x.String()
	default:
		return fmt.Sprint(x)
	}
}
