package logging

import (
	"reflect"
	"testing"
)

// FuzzDecodeBatchFast checks the one-pass decoder against encoding/json: whatever it accepts,
// decodeBatchJSON accepts too, with the same entries.
func FuzzDecodeBatchFast(f *testing.F) {
	seeds := []string{
		`[]`, ` [ ] `, `[{}]`, `null`, `{}`, `[{"msg":"a","time":"2026-01-02T03:04:05.123Z","level":"INFO","x":{"y":[1,2,null]}}]`,
		`[{"msg":1}]`, `[1,2]`, `[{"time":"x"}]`, `[{"a":"\u0000","b":"\ud800"}]`, `[{"msg":"a"}] [`, "[{\"msg\":\"\xff\"}]",
		`[{"msg":"a\"b","service":"s","instance":"i","level":"Warning","n":-1.5e+3,"t":true,"f":false,"z":null,"s":"x y"}]`,
		`[{"msg":"a","msg":"b"}]`, `[{"a":1,"a":2}]`, `[{"a":01}]`, `[{"a":1.}]`, `[{"a":-}]`, `[{"\u0061":1}]`, `[{"":1}]`,
		`[{"time":null,"service":null}]`, `[{"time":""}]`, `[{"level":"  ERR "}]`, "[\n{ \"msg\" : \"a\" } ,\t{\"msg\":\"b\"}\r]",
		`[{"msg":"a"},]`, `[{"msg":"a"}`, `[{"msg":"a\q"}]`, `[{"msg":"\u12"}]`, `[{"k":"\u2028"}]`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := decodeBatchFast(body, testNow)
		if !ok {
			return
		}
		slow, err := decodeBatchJSON(body, testNow)
		if err != nil {
			t.Fatalf("the one-pass decoder accepts what encoding/json refuses (%v): %q", err, body)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("the decoders disagree on %q:\none pass:      %#v\nencoding/json: %#v", body, fast, slow)
		}
	})
}

// TestDecodeBatchFastTakesShippedBatches: the batches shippers send, and the lines the store
// writes, take the one-pass way, with the entries encoding/json reads.
func TestDecodeBatchFastTakesShippedBatches(t *testing.T) {
	for name, body := range map[string][]byte{
		"typical":   typicalBatch(t, 50),
		"escapes":   []byte(`[{"time":"2026-01-02T03:04:05Z","msg":"a \"quoted\"\nline \u00e9","path":"/a\\b","n":-0.5e-3,"ok":true,"none":null}]`),
		"bare line": []byte(`[{"msg":"hello"}]`),
	} {
		fast, ok := decodeBatchFast(body, testNow)
		if !ok {
			t.Errorf("%s: not taken by the one-pass decoder: %s", name, body)
			continue
		}
		slow, err := decodeBatchJSON(body, testNow)
		if err != nil || !reflect.DeepEqual(fast, slow) {
			t.Errorf("%s: the decoders disagree (%v):\n%#v\n%#v", name, err, fast, slow)
		}
	}
}
