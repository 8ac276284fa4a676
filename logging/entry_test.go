package logging

import (
	"encoding/json"
	"testing"
	"time"

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

func BenchmarkEncodeForShipping(b *testing.B) {
	kv := []any{"level", level.InfoValue(), "ts", time.Now(), "service", "grading", "msg", "request", "method", "GET",
		"path", "/students/1", "status", 200, "took", 153 * time.Microsecond, "request_id", "69aa7ed7c70b0ad0325f7587"}
	b.ReportAllocs()
	for b.Loop() {
		encodeForShipping(entryFromKeyvals(kv, "grading", "127.0.0.1:6000", time.Now()))
	}
}

func BenchmarkDecodeBatch(b *testing.B) {
	kv := []any{"level", level.InfoValue(), "ts", time.Now(), "service", "grading", "msg", "request", "method", "GET",
		"path", "/students/1", "status", 200, "took", 153 * time.Microsecond, "request_id", "69aa7ed7c70b0ad0325f7587"}
	line := encodeForShipping(entryFromKeyvals(kv, "grading", "127.0.0.1:6000", time.Now()))
	body := []byte{'['}
	for i := range 100 {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, line...)
	}
	body = append(body, ']')
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBatch(body, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
