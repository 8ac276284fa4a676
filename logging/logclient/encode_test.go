package logclient

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log/level"
)

// fuzzKeyvals turns fuzz input into a log call: NUL-separated tokens, a type letter first in
// each value (i int, f float, b bool, n nil, t time, d duration, e error, anything else a string).
func fuzzKeyvals(in string) []any {
	toks := strings.Split(in, "\x00")
	kv := make([]any, 0, len(toks))
	for i, tok := range toks {
		if i%2 == 0 {
			kv = append(kv, tok)
			continue
		}
		if tok == "" {
			kv = append(kv, tok)
			continue
		}
		rest := tok[1:]
		switch tok[0] {
		case 'i':
			n, _ := strconv.Atoi(rest)
			kv = append(kv, n)
		case 'f':
			f, _ := strconv.ParseFloat(rest, 64)
			kv = append(kv, f)
		case 'b':
			kv = append(kv, rest == "1")
		case 'n':
			kv = append(kv, nil)
		case 't':
			kv = append(kv, time.Unix(int64(len(rest))*1e6, 123).In(time.FixedZone("x", 3600)))
		case 'd':
			kv = append(kv, time.Duration(len(rest))*time.Millisecond)
		case 'e':
			kv = append(kv, &panicky{})
		case 'l':
			kv = append(kv, level.WarnValue())
		default:
			kv = append(kv, tok)
		}
	}
	return kv
}

// FuzzEncodeKeyvals checks the Shipper's direct encoding against building the Entry and
// encoding it.
func FuzzEncodeKeyvals(f *testing.F) {
	for _, s := range []string{
		"level\x00l\x00ts\x00s2026-01-02T03:04:05.5Z\x00msg\x00srequest\x00status\x00i200\x00took\x00d123\x00request_id\x00sabc",
		"msg\x00sa\x00lonely", "time\x00ssoon\x00ts\x00snope", "ts\x00t12\x00x\x00f1.5\x00y\x00fNaN\x00z\x00b1\x00n\x00n",
		"a\x00s1\x00a\x00s2\x00\x00sempty\x00err\x00e", "service\x00sportal\x00instance\x00s\x00level\x00sWARNING",
		"k\x00s\"quoted\"\n\u2028\xff", strings.Repeat("k\x00sv\x00", 200), "big\x00s" + strings.Repeat("x", 70<<10),
		"b\x00s1\x00a\x00s2\x00c\x00s3\x00a\x00s4\x00b\x00s5\x00ab\x00s6\x00a\x00i7",
	} {
		f.Add(s)
	}
	// More fields than MaxFields, in no order, then keys seen before: the first MaxFields
	// distinct keys are kept, and a repeat past the bound is not taken.
	var many strings.Builder
	for i := range MaxFields + 10 {
		fmt.Fprintf(&many, "k%d\x00sv%d\x00", (i*37)%(MaxFields+10), i)
	}
	many.WriteString("k0\x00slast\x00k37\x00slast")
	f.Add(many.String())
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	f.Fuzz(func(t *testing.T, in string) {
		kv := fuzzKeyvals(in)
		want := encodeForShipping(EntryFromKeyvals(kv, "grading", "127.0.0.1:6000", at))
		got := encodeKeyvals(kv, "grading", "127.0.0.1:6000", at)
		if !bytes.Equal(got, want) {
			t.Fatalf("log call %q:\nencodeKeyvals: %s\nby an Entry:   %s", kv, got, want)
		}
	})
}

// BenchmarkAppendKeyvals is the encoding of a typical access-log line, as Shipper.Log does it.
func BenchmarkAppendKeyvals(b *testing.B) {
	kv := []any{"ts", time.Date(2026, 11, 30, 10, 0, 0, 123456789, time.UTC), "service", "grading", "level", "info",
		"request_id", "69aa7ed7c70b0ad0325f7587", "msg", "request", "method", "GET", "path", "/students/1",
		"status", 200, "took", 153 * time.Microsecond}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendKeyvals(buf[:0], kv, "grading", "127.0.0.1:6000", time.Time{})
	}
}

// TestAppendTime checks the entries' time format against time's own RFC 3339, around the edges
// of days, months, leap years, the epoch and the years it writes itself, and at random.
func TestAppendTime(t *testing.T) {
	check := func(tm time.Time) {
		t.Helper()
		want := tm.UTC().AppendFormat([]byte("x"), time.RFC3339Nano)
		if got := appendTime([]byte("x"), tm); !bytes.Equal(got, want) {
			t.Fatalf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
	for _, y := range []int{-1, 0, 1, 4, 99, 100, 400, 1582, 1899, 1900, 1969, 1970, 1971, 2000, 2024, 2026, 2100, 9999, 10000, 12345} {
		for _, m := range []time.Month{1, 2, 3, 12} {
			for _, d := range []int{0, 1, 28, 29, 30, 31} {
				for _, ns := range []int{0, -1, 1, 100, 120000000, 999999999} {
					check(time.Date(y, m, d, 0, 0, 0, ns, time.UTC))
					check(time.Date(y, m, d, 23, 59, 59, ns, time.FixedZone("x", -7*3600)))
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		check(time.Unix(r.Int64N(400*365*86400)-200*365*86400, r.Int64N(1e9)))
		check(time.Unix(r.Int64N(253402300800+62167219200)-62167219200, 0).In(time.FixedZone("y", 3600)))
	}
	check(time.Time{})
	check(time.Unix(1<<62, 0))
	check(time.Unix(-1<<62, 0))
}

func FuzzAppendTime(f *testing.F) {
	f.Add(int64(0), int64(0))
	f.Add(int64(1795953600), int64(123456789))
	f.Add(int64(-62135596800), int64(1))
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		tm := time.Unix(sec, nsec)
		want := tm.UTC().AppendFormat(nil, time.RFC3339Nano)
		if got := appendTime(nil, tm); !bytes.Equal(got, want) {
			t.Fatalf("appendTime(%d, %d) = %s, want %s", sec, nsec, got, want)
		}
	})
}
