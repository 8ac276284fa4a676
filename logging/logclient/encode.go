package logclient

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/go-kit/log/level"

	"github.com/gradebook/gradebook/pkg/text"
)

// keyval is one field of a log call while it is encoded.
type keyval struct {
	key string
	val any
}

// encodeBuffers are the scratch buffers a log call is encoded into before it is copied into its
// batch.
var encodeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// putEncodeBuffer returns the buffer bp to the pool, holding line, the last encoding made in it.
func putEncodeBuffer(bp *[]byte, line []byte) {
	if cap(line) <= 64<<10 {
		*bp = line[:0]
		encodeBuffers.Put(bp)
	}
}

// encodeKeyvals encodes a log call exactly as encodeForShipping(EntryFromKeyvals(keyvals,
// service, instance, now)) does, without building the Entry and its map: the Shipper's Log runs
// on every logged line of every service. An entry too large for the log service takes that way,
// which cuts it down.
func encodeKeyvals(keyvals []any, service, instance string, now time.Time) []byte {
	return bytes.Clone(appendKeyvals(nil, keyvals, service, instance, now))
}

// appendKeyvals appends encodeKeyvals' line to dst. A zero now stands for time.Now(), read only
// when the call has no "ts".
func appendKeyvals(dst []byte, keyvals []any, service, instance string, now time.Time) []byte {
	if len(keyvals)%2 == 1 {
		keyvals = append(keyvals[:len(keyvals):len(keyvals)], "(MISSING)")
	}
	t, stamped := now, false
	var lvl, msg string
	var arr [16]keyval
	fields := arr[:0]
	for i := 0; i < len(keyvals); i += 2 {
		key := safeString(keyvals[i])
		val := keyvals[i+1]
		switch key {
		case "ts", "time":
			if tv, ok := val.(time.Time); ok {
				t, stamped = tv, true
				continue
			}
			if pt, err := time.Parse(time.RFC3339Nano, safeString(val)); err == nil {
				t, stamped = pt, true
				continue
			}
			if key == "time" {
				key = "time_value"
			}
		case "service":
			if s := safeString(val); s != "" {
				service = s
			}
			continue
		case "instance":
			if s := safeString(val); s != "" {
				instance = s
			}
			continue
		case "level":
			if lv, ok := val.(level.Value); ok {
				// go-kit's own values (no other type can be one): String cannot panic.
				lvl = NormalizeLevel(lv.String())
			} else {
				lvl = NormalizeLevel(safeString(val))
			}
			continue
		case "msg":
			msg = safeString(val)
			continue
		}
		if key == "" {
			key = "(EMPTY)"
		}
		if len(key) > MaxFieldNameLen {
			key = text.Truncate(key, MaxFieldNameLen)
		}
		// As in a map: once MaxFields are held, nothing more is taken; a repeated key's last
		// value wins. The fields are kept in order of their keys (few: an insertion sort), so a
		// repeated key is the one just before where the new one would go.
		if len(fields) >= MaxFields {
			continue
		}
		j := len(fields)
		for j > 0 && keyLess(key, fields[j-1].key) {
			j--
		}
		if j > 0 && sameKey(fields[j-1].key, key) {
			fields[j-1].val = val
			continue
		}
		fields = append(fields, keyval{})
		for k := len(fields) - 1; k > j; k-- {
			fields[k] = fields[k-1]
		}
		fields[j] = keyval{key, val}
	}

	if !stamped && now.IsZero() {
		now = time.Now()
		t = now
	}
	start := len(dst)
	b := append(dst, `{"time":"`...)
	b = appendTime(b, t)
	b = append(b, `","service":`...)
	b = appendJSONString(b, service)
	b = append(b, `,"instance":`...)
	b = appendJSONString(b, instance)
	b = append(b, `,"level":`...)
	b = appendJSONString(b, lvl)
	b = append(b, `,"msg":`...)
	b = appendJSONString(b, msg)
	for _, f := range fields {
		b = append(b, ',')
		b = appendJSONString(b, f.key)
		b = append(b, ':')
		b = appendJSONValue(b, f.val)
	}
	b = append(b, '}')
	if len(b)-start <= MaxEntryBytes-1024 {
		return b
	}
	return append(b[:start], encodeForShipping(EntryFromKeyvals(keyvals, service, instance, now))...)
}

// sameKey is a == b for field names, which are never empty, most pairs told apart by their
// lengths and first bytes without a call.
func sameKey(a, b string) bool {
	return len(a) == len(b) && a[0] == b[0] && a == b
}

// keyLess orders field names, which are never empty, as < does, deciding most pairs on their
// first bytes without a call.
func keyLess(a, b string) bool {
	if a[0] != b[0] {
		return a[0] < b[0]
	}
	return a < b
}

// appendJSONValue appends what jsonValue returns for v.
func appendJSONValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return appendJSONString(dst, x)
	case bool:
		return strconv.AppendBool(dst, x)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case int8:
		return strconv.AppendInt(dst, int64(x), 10)
	case int16:
		return strconv.AppendInt(dst, int64(x), 10)
	case int32:
		return strconv.AppendInt(dst, int64(x), 10)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10)
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10)
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10)
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10)
	case uint64:
		return strconv.AppendUint(dst, x, 10)
	case float32:
		return appendJSONFloat(dst, float64(x), 32)
	case float64:
		return appendJSONFloat(dst, x, 64)
	case time.Duration:
		// Called directly, String's text stays on the stack; through fmt.Stringer it would not.
		// It is digits, '-', '.', letters and 'µ': nothing to escape.
		return appendQuoted(dst, x.String())
	default:
		return appendJSONString(dst, safeString(v))
	}
}

func appendJSONFloat(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return appendJSONString(dst, strconv.FormatFloat(f, 'g', -1, bits))
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// appendTime appends t in UTC as t.UTC().AppendFormat(dst, time.RFC3339Nano) does, without the
// layout's interpretation and in unsigned 32-bit arithmetic: every entry's "time" is written
// this way. Years outside 0–9999 take AppendFormat.
func appendTime(dst []byte, t time.Time) []byte {
	const (
		minUnix = -62167219200 // 0000-01-01T00:00:00Z
		maxUnix = 253402300799 // 9999-12-31T23:59:59Z
	)
	sec := t.Unix()
	if sec < minUnix || sec > maxUnix {
		return t.UTC().AppendFormat(dst, time.RFC3339Nano)
	}
	u := uint64(sec - minUnix)
	days, sod := uint32(u/86400), uint32(u%86400)
	year, month, day := civilDate(days)
	n := len(dst)
	dst = slices.Grow(dst, 30)[:n+20]
	b := dst[n : n+20]
	put2(b[0:], year/100)
	put2(b[2:], year%100)
	b[4] = '-'
	put2(b[5:], month)
	b[7] = '-'
	put2(b[8:], day)
	b[10] = 'T'
	put2(b[11:], sod/3600)
	b[13] = ':'
	put2(b[14:], sod/60%60)
	b[16] = ':'
	put2(b[17:], sod%60)
	ns := uint32(t.Nanosecond())
	if ns == 0 {
		b[19] = 'Z'
		return dst
	}
	b[19] = '.'
	var frac [9]byte
	hi, mid, lo := ns/1000000, ns/1000%1000, ns%1000
	frac[0], frac[3], frac[6] = byte('0'+hi/100), byte('0'+mid/100), byte('0'+lo/100)
	put2(frac[1:], hi%100)
	put2(frac[4:], mid%100)
	put2(frac[7:], lo%100)
	end := 9
	for frac[end-1] == '0' {
		end--
	}
	dst = append(dst, frac[:end]...)
	return append(dst, 'Z')
}

// civilDate is the proleptic Gregorian date of the day days after 0000-01-01, days below
// 3,700,000 (H. Hinnant's civil_from_days, counted from 0400 BC, March 1st).
func civilDate(days uint32) (year, month, day uint32) {
	z := days + 146097 - 60
	era := z / 146097
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365], from March 1st
	mp := (5*doy + 2) / 153                                // [0, 11], from March
	day = doy - (153*mp+2)/5 + 1
	month = mp + 3
	if mp >= 10 {
		month = mp - 9
	}
	year = era*400 + yoe - 400
	if month <= 2 {
		year++
	}
	return year, month, day
}

// digitPairs is "00" to "99".
const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// put2 writes v, 0–99, as two digits at b[0:2].
func put2(b []byte, v uint32) {
	_ = b[1]
	b[0], b[1] = digitPairs[2*v], digitPairs[2*v+1]
}
