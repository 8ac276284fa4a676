package logclient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// FuzzAppendJSONString checks the hand-written string encoder against encoding/json: the same
// string must come back when decoded, and the output must be valid JSON on one line.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "nl\nret\r\ttab\x00\x1f", "<b>&amp;</b>", "\u2028\u2029", "bad \xff utf8 \xc3", "é漢字🙂"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q encodes to invalid JSON %q: %v", s, out, err)
		}
		ref, _ := json.Marshal(s)
		var want string
		_ = json.Unmarshal(ref, &want)
		if got != want {
			t.Fatalf("%q: decodes to %q, encoding/json gives %q", s, got, want)
		}
		for _, c := range out {
			if c == '\n' || c == '\r' {
				t.Fatalf("%q: output %q spans lines", s, out)
			}
		}
	})
}

// BenchmarkEncodeForShipping is the encoding of one log call as the Shipper's Log does it.
func BenchmarkEncodeForShipping(b *testing.B) {
	kv := []any{"level", level.InfoValue(), "ts", time.Now(), "service", "grading", "msg", "request", "method", "GET",
		"path", "/students/1", "status", 200, "took", 153 * time.Microsecond, "request_id", "69aa7ed7c70b0ad0325f7587"}
	b.ReportAllocs()
	for b.Loop() {
		encodeKeyvals(kv, "grading", "127.0.0.1:6000", time.Now())
	}
}

func TestEntryFromKeyvals(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	var nilErr *panicky
	tests := []struct {
		name    string
		keyvals []any
		check   func(e Entry) string
	}{
		{"ts as time", []any{"ts", at, "msg", "m"}, func(e Entry) string {
			return cmp(e.Time.Equal(at) && e.Msg == "m" && e.Fields == nil, e)
		}},
		{"ts as go-kit timestamp", boundTimestamp(at), func(e Entry) string {
			return cmp(e.Time.Equal(at) && e.Fields == nil, e)
		}},
		{"level value", []any{level.Key(), level.WarnValue()}, func(e Entry) string { return cmp(e.Level == "warn", e) }},
		{"service overrides", []any{"service", "portal"}, func(e Entry) string { return cmp(e.Service == "portal", e) }},
		{"odd keyvals", []any{"msg", "m", "lonely"}, func(e Entry) string { return cmp(string(e.Fields["lonely"]) == `"(MISSING)"`, e) }},
		{"nil pointer error", []any{"err", nilErr}, func(e Entry) string { return cmp(strings.Contains(string(e.Fields["err"]), "PANIC"), e) }},
		{"NaN", []any{"x", nan()}, func(e Entry) string { return cmp(string(e.Fields["x"]) == `"NaN"`, e) }},
		{"duration", []any{"took", 1500 * time.Millisecond}, func(e Entry) string { return cmp(string(e.Fields["took"]) == `"1.5s"`, e) }},
		{"nil", []any{"v", nil}, func(e Entry) string { return cmp(string(e.Fields["v"]) == `null`, e) }},
		{"non-string key", []any{42, "v"}, func(e Entry) string { return cmp(string(e.Fields["42"]) == `"v"`, e) }},
		{"time not a time", []any{"time", "soon"}, func(e Entry) string { return cmp(string(e.Fields["time_value"]) == `"soon"`, e) }},
		{"ts not a time", []any{"ts", "soon"}, func(e Entry) string { return cmp(string(e.Fields["ts"]) == `"soon"`, e) }},
		{"long key cut at a character", []any{"k" + strings.Repeat("é", MaxFieldNameLen), 1}, func(e Entry) string {
			for k := range e.Fields {
				return cmp(len(k) <= MaxFieldNameLen && len(k) >= MaxFieldNameLen-1 && utf8.ValidString(k), e)
			}
			return cmp(false, e)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := EntryFromKeyvals(tt.keyvals, "grading", "i", at.Add(time.Hour))
			if msg := tt.check(e); msg != "" {
				t.Error(msg)
			}
			if _, err := e.MarshalJSON(); err != nil {
				t.Error(err)
			}
		})
	}
}

type panicky struct{ s *string }

func (p *panicky) Error() string { return *p.s }

// boundTimestamp is what a logger built by log.With(..., "ts", log.DefaultTimestampUTC) passes on.
func boundTimestamp(at time.Time) []any {
	var got []any
	l := log.With(log.LoggerFunc(func(kv ...any) error { got = kv; return nil }),
		"ts", log.TimestampFormat(func() time.Time { return at }, time.RFC3339Nano))
	l.Log("msg", "m")
	return got
}

func cmp(ok bool, e Entry) string {
	if ok {
		return ""
	}
	fields := map[string]string{}
	for k, v := range e.Fields {
		fields[k] = string(v)
	}
	return fmt.Sprintf("unexpected entry %+v fields %v", e, fields)
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}

// FuzzIsCompactScalar: a value AppendJSON copies as it is is one json.Compact leaves unchanged.
func FuzzIsCompactScalar(f *testing.F) {
	for _, s := range []string{`"a"`, `""`, `"a b"`, `"\n"`, `"a\"`, `1`, `-0.5e+3`, `01`, `1.`, `-`, `true`, `nul`, `null `, ` 1`, `{}`, "\"\xff\"", `"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		if !isCompactScalar(v) {
			return
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil || !bytes.Equal(buf.Bytes(), v) {
			t.Fatalf("%q taken as compact JSON, but json.Compact gives %q, %v", v, buf.Bytes(), err)
		}
	})
}

// TestAppendJSONStringPlain checks the word-at-a-time path against the byte-at-a-time one, for
// every length up to 24 with each kind of byte at each position, appended after other bytes.
func TestAppendJSONStringPlain(t *testing.T) {
	for n := 0; n <= 24; n++ {
		for pos := range max(n, 1) {
			for _, c := range []byte{0x00, 0x01, 0x1f, 0x20, '!', '"', '#', '[', '\\', ']', 0x7e, 0x7f, 0x80, 0xa2, 0xdc, 0xff} {
				b := []byte(strings.Repeat("abcdefgh", 3)[:n])
				if n > 0 {
					b[pos] = c
				}
				s := string(b)
				want := appendJSONStringEscaped([]byte("x"), s)
				if got := appendJSONString([]byte("x"), s); !bytes.Equal(got, want) {
					t.Errorf("appendJSONString(%q) = %q, want %q", s, got, want)
				}
			}
		}
	}
}
