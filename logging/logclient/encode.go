package logclient

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

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
			lvl = NormalizeLevel(safeString(val))
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
		// value wins.
		if len(fields) >= MaxFields {
			continue
		}
		if j := slices.IndexFunc(fields, func(f keyval) bool { return f.key == key }); j >= 0 {
			fields[j].val = val
			continue
		}
		fields = append(fields, keyval{key, val})
	}
	// Few fields, keys all different: an insertion sort, without SortFunc's calls through a func.
	for i := 1; i < len(fields); i++ {
		for j := i; j > 0 && fields[j].key < fields[j-1].key; j-- {
			fields[j], fields[j-1] = fields[j-1], fields[j]
		}
	}

	if !stamped && now.IsZero() {
		now = time.Now()
		t = now
	}
	start := len(dst)
	b := append(dst, `{"time":"`...)
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
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
		return appendJSONString(dst, x.String())
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
