package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/gradebook/gradebook/logging/logclient"
	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/httpx"
)

// maxNameLen bounds an entry's service and instance names.
const maxNameLen = 256

// levelRank orders levels for the level filter. Unknown and empty levels count as info, which
// is what the course's plain-text lines are.
func levelRank(lvl string) int {
	switch lvl {
	case "debug":
		return 0
	case "warn":
		return 2
	case "error":
		return 3
	default:
		return 1
	}
}

// DecodeBatch parses the body of POST /v1/logs: a JSON array of entry objects. It checks the
// whole batch before returning anything, so that a batch with one bad entry is refused whole.
// Entries without a time are stamped with now. Its errors wrap errs.ErrInvalid.
//
// A batch as shippers send it (flat objects of strings, numbers, booleans and nulls, each key
// once) is read in one pass by decodeBatchFast; anything else, and every batch it would refuse,
// goes through decodeBatchJSON, which encoding/json reads, so that both give the same entries
// and every error comes from one place.
func DecodeBatch(body []byte, now time.Time) ([]logclient.Entry, error) {
	if entries, ok := decodeBatchFast(body, now); ok {
		return entries, nil
	}
	return decodeBatchJSON(body, now)
}

// decodeBatchJSON is DecodeBatch through encoding/json.
func decodeBatchJSON(body []byte, now time.Time) ([]logclient.Entry, error) {
	var raws []json.RawMessage
	if err := httpx.DecodeJSONBytes(body, &raws); err != nil {
		if errors.Is(err, errs.ErrInvalid) && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
			return nil, fmt.Errorf("%w: the body must be a JSON array of entries, not a single object", errs.ErrInvalid)
		}
		return nil, err
	}
	if raws == nil {
		return nil, fmt.Errorf("%w: the body must be a JSON array of entries, not null", errs.ErrInvalid)
	}
	if len(raws) > logclient.MaxBatchEntries {
		return nil, fmt.Errorf("%w: %d entries in one batch; the most is %d", errs.ErrInvalid, len(raws), logclient.MaxBatchEntries)
	}
	entries := make([]logclient.Entry, 0, len(raws))
	for i, raw := range raws {
		e, err := decodeEntry(raw, now)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: %v", errs.ErrInvalid, i, err)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// decodeEntry parses and checks one entry object.
func decodeEntry(raw json.RawMessage, now time.Time) (logclient.Entry, error) {
	if len(raw) > logclient.MaxEntryBytes {
		return logclient.Entry{}, fmt.Errorf("%d bytes; the most is %d", len(raw), logclient.MaxEntryBytes)
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return logclient.Entry{}, errors.New("not a JSON object")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &obj); err != nil {
		return logclient.Entry{}, fmt.Errorf("not a JSON object: %v", err)
	}
	if obj == nil {
		return logclient.Entry{}, errors.New("not a JSON object")
	}
	var e logclient.Entry
	str := func(key string, limit int) (string, error) {
		v, ok := obj[key]
		if !ok || string(v) == "null" {
			return "", nil
		}
		s, err := unquoteJSON(v)
		if err != nil {
			return "", fmt.Errorf("%s must be a string", key)
		}
		if limit > 0 && len(s) > limit {
			return "", fmt.Errorf("%s is longer than %d bytes", key, limit)
		}
		return s, nil
	}
	var err error
	var ts string
	if ts, err = str("time", 64); err != nil {
		return logclient.Entry{}, err
	}
	if ts == "" {
		e.Time = now.UTC()
	} else {
		t, perr := time.Parse(time.RFC3339Nano, ts)
		if perr != nil {
			return logclient.Entry{}, fmt.Errorf("time %q is not an RFC 3339 time", ts)
		}
		e.Time = t.UTC()
	}
	if e.Service, err = str("service", maxNameLen); err != nil {
		return logclient.Entry{}, err
	}
	if e.Instance, err = str("instance", maxNameLen); err != nil {
		return logclient.Entry{}, err
	}
	var lvl string
	if lvl, err = str("level", 32); err != nil {
		return logclient.Entry{}, err
	}
	e.Level = logclient.NormalizeLevel(lvl)
	if e.Msg, err = str("msg", 0); err != nil {
		return logclient.Entry{}, err
	}
	extra := 0
	for k := range obj {
		if !logclient.IsStandardKey(k) {
			extra++
		}
	}
	if extra > logclient.MaxFields {
		return logclient.Entry{}, fmt.Errorf("%d fields; the most is %d", extra, logclient.MaxFields)
	}
	if extra > 0 {
		e.Fields = make(map[string]json.RawMessage, extra)
		for k, v := range obj {
			if logclient.IsStandardKey(k) {
				continue
			}
			if k == "" || len(k) > logclient.MaxFieldNameLen || !utf8.ValidString(k) {
				return logclient.Entry{}, fmt.Errorf("field name %.40q must be 1 to %d bytes of UTF-8", k, logclient.MaxFieldNameLen)
			}
			if bytes.ContainsAny(v, " \t\r\n") {
				var c bytes.Buffer
				if err := json.Compact(&c, v); err != nil {
					return logclient.Entry{}, fmt.Errorf("field %q: %v", k, err)
				}
				v = c.Bytes()
			}
			e.Fields[k] = v
		}
	}
	return e, nil
}

// unquoteJSON decodes a JSON string; the common case of one with no escapes takes no detour
// through reflection.
func unquoteJSON(v []byte) (string, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		inner := v[1 : len(v)-1]
		if bytes.IndexByte(inner, '\\') < 0 && bytes.IndexByte(inner, '"') < 0 && utf8.Valid(inner) {
			clean := true
			for _, c := range inner {
				if c < 0x20 {
					clean = false
					break
				}
			}
			if clean {
				return string(inner), nil
			}
		}
	}
	var s string
	err := json.Unmarshal(v, &s)
	return s, err
}
