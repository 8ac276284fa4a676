package logging

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/gradebook/gradebook/logging/logclient"
)

// decodeBatchFast reads a POST /v1/logs body in one pass, without reflection, when it is a batch
// as the shippers send it: an array of flat objects whose values are strings, numbers, booleans
// or null, each key once, every key free of escapes, and every entry one that decodeBatchJSON
// accepts. For anything else it answers ok false, and decodeBatchJSON decides (and words the
// error). Both give the same entries for the same body, which FuzzDecodeBatchFast checks.
//
// The entries' field values share body's memory; names, levels and field names repeated in the
// batch share one string each.
func decodeBatchFast(body []byte, now time.Time) (entries []logclient.Entry, ok bool) {
	// encoding/json would turn invalid UTF-8 into U+FFFD; httpx refuses it, with its own words.
	if !utf8.Valid(body) {
		return nil, false
	}
	d := fastDecoder{buf: body, intern: make(map[string]string, 32)}
	d.space()
	if !d.consume('[') {
		return nil, false
	}
	// Every entry starts with a '{', so their count is a bound on the entries.
	entries = make([]logclient.Entry, 0, min(bytes.Count(body, []byte{'{'}), logclient.MaxBatchEntries))
	d.space()
	if !d.consume(']') {
		for {
			if len(entries) == logclient.MaxBatchEntries {
				return nil, false
			}
			e, ok := d.entry(now)
			if !ok {
				return nil, false
			}
			entries = append(entries, e)
			d.space()
			if d.consume(']') {
				break
			}
			if !d.consume(',') {
				return nil, false
			}
			d.space()
		}
	}
	d.space()
	if d.i != len(d.buf) {
		return nil, false
	}
	return entries, true
}

// fastDecoder is decodeBatchFast's position in the body, and the batch's shared strings.
type fastDecoder struct {
	buf    []byte
	i      int
	intern map[string]string
	fields []fastField // scratch: the current entry's fields
}

type fastField struct {
	key string
	val []byte
}

// The standard keys, as indexes into an entry's values.
const (
	keyTime = iota
	keyService
	keyInstance
	keyLevel
	keyMsg
	numStandardKeys
)

func standardKey(k []byte) int {
	switch string(k) {
	case "time":
		return keyTime
	case "service":
		return keyService
	case "instance":
		return keyInstance
	case "level":
		return keyLevel
	case "msg":
		return keyMsg
	}
	return -1
}

// entry reads one object at d.i and checks it as decodeEntry does.
func (d *fastDecoder) entry(now time.Time) (logclient.Entry, bool) {
	start := d.i
	if !d.consume('{') {
		return logclient.Entry{}, false
	}
	var std [numStandardKeys][]byte
	d.fields = d.fields[:0]
	d.space()
	if !d.consume('}') {
		for {
			key, ok := d.key()
			if !ok {
				return logclient.Entry{}, false
			}
			d.space()
			if !d.consume(':') {
				return logclient.Entry{}, false
			}
			d.space()
			val, ok := d.scalar()
			if !ok {
				return logclient.Entry{}, false
			}
			if k := standardKey(key); k >= 0 {
				if std[k] != nil {
					return logclient.Entry{}, false // a repeated key: encoding/json keeps the last
				}
				std[k] = val
			} else {
				if len(key) == 0 || len(key) > logclient.MaxFieldNameLen || len(d.fields) == logclient.MaxFields {
					return logclient.Entry{}, false
				}
				d.fields = append(d.fields, fastField{d.internBytes(key), val})
			}
			d.space()
			if d.consume('}') {
				break
			}
			if !d.consume(',') {
				return logclient.Entry{}, false
			}
			d.space()
		}
	}
	if d.i-start > logclient.MaxEntryBytes {
		return logclient.Entry{}, false
	}

	var e logclient.Entry
	ts, ok := d.str(std[keyTime], 64, false)
	if !ok {
		return logclient.Entry{}, false
	}
	if ts == "" {
		e.Time = now.UTC()
	} else {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return logclient.Entry{}, false
		}
		e.Time = t.UTC()
	}
	if e.Service, ok = d.str(std[keyService], maxNameLen, true); !ok {
		return logclient.Entry{}, false
	}
	if e.Instance, ok = d.str(std[keyInstance], maxNameLen, true); !ok {
		return logclient.Entry{}, false
	}
	lvl, ok := d.str(std[keyLevel], 32, true)
	if !ok {
		return logclient.Entry{}, false
	}
	e.Level = logclient.NormalizeLevel(lvl)
	if e.Msg, ok = d.str(std[keyMsg], 0, false); !ok {
		return logclient.Entry{}, false
	}
	if len(d.fields) > 0 {
		e.Fields = make(map[string]json.RawMessage, len(d.fields))
		for _, f := range d.fields {
			if _, dup := e.Fields[f.key]; dup {
				return logclient.Entry{}, false
			}
			e.Fields[f.key] = f.val
		}
	}
	return e, true
}

// str is a standard key's value as decodeEntry reads it: absent or null is "", a string at most
// limit bytes long (limit 0: any length) is itself, and anything else is not ok. Shared makes
// the string one of the batch's shared ones.
func (d *fastDecoder) str(v []byte, limit int, shared bool) (string, bool) {
	if v == nil || string(v) == "null" {
		return "", true
	}
	if v[0] != '"' {
		return "", false
	}
	var s string
	inner := v[1 : len(v)-1]
	switch {
	case bytes.IndexByte(inner, '\\') >= 0:
		var err error
		if s, err = unquoteJSON(v); err != nil {
			return "", false
		}
	case shared:
		s = d.internBytes(inner)
	default:
		s = string(inner)
	}
	if limit > 0 && len(s) > limit {
		return "", false
	}
	return s, true
}

// internBytes is b as a string, the same string for the same bytes throughout the batch.
func (d *fastDecoder) internBytes(b []byte) string {
	if s, ok := d.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	d.intern[s] = s
	return s
}

func (d *fastDecoder) space() {
	for d.i < len(d.buf) {
		switch d.buf[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *fastDecoder) consume(c byte) bool {
	if d.i < len(d.buf) && d.buf[d.i] == c {
		d.i++
		return true
	}
	return false
}

// key reads an object key with no escapes and returns what is between its quotes.
func (d *fastDecoder) key() ([]byte, bool) {
	start := d.i
	escaped, ok := d.string()
	if !ok || escaped {
		return nil, false
	}
	return d.buf[start+1 : d.i-1], true
}

// scalar reads a string, number, true, false or null and returns its JSON text.
func (d *fastDecoder) scalar() ([]byte, bool) {
	if d.i >= len(d.buf) {
		return nil, false
	}
	start := d.i
	var ok bool
	switch c := d.buf[d.i]; {
	case c == '"':
		_, ok = d.string()
	case c == '-' || c >= '0' && c <= '9':
		ok = d.number()
	case c == 't':
		ok = d.literal("true")
	case c == 'f':
		ok = d.literal("false")
	case c == 'n':
		ok = d.literal("null")
	}
	if !ok {
		return nil, false
	}
	return d.buf[start:d.i], true
}

func (d *fastDecoder) literal(lit string) bool {
	if bytes.HasPrefix(d.buf[d.i:], []byte(lit)) {
		d.i += len(lit)
		return true
	}
	return false
}

// string reads a JSON string at d.i (the body is valid UTF-8 already) and reports whether it
// holds escapes.
func (d *fastDecoder) string() (escaped, ok bool) {
	if !d.consume('"') {
		return false, false
	}
	for d.i < len(d.buf) {
		c := d.buf[d.i]
		switch {
		case c == '"':
			d.i++
			return escaped, true
		case c < 0x20:
			return false, false
		case c == '\\':
			escaped = true
			if d.i+1 >= len(d.buf) {
				return false, false
			}
			switch d.buf[d.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.i += 2
			case 'u':
				if d.i+6 > len(d.buf) {
					return false, false
				}
				for _, h := range d.buf[d.i+2 : d.i+6] {
					if !isHex(h) {
						return false, false
					}
				}
				d.i += 6
			default:
				return false, false
			}
		default:
			d.i++
		}
	}
	return false, false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// number reads a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *fastDecoder) number() bool {
	d.consume('-')
	switch {
	case d.consume('0'):
	case d.i < len(d.buf) && d.buf[d.i] >= '1' && d.buf[d.i] <= '9':
		d.digits()
	default:
		return false
	}
	if d.consume('.') {
		if d.digits() == 0 {
			return false
		}
	}
	if d.consume('e') || d.consume('E') {
		if !d.consume('+') {
			d.consume('-')
		}
		if d.digits() == 0 {
			return false
		}
	}
	return true
}

func (d *fastDecoder) digits() int {
	start := d.i
	for d.i < len(d.buf) && d.buf[d.i] >= '0' && d.buf[d.i] <= '9' {
		d.i++
	}
	return d.i - start
}
