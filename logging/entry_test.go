package logging

import (
	"testing"
	"time"

	"github.com/go-kit/log/level"

	"github.com/gradebook/gradebook/logging/logclient"
)

func BenchmarkDecodeBatch(b *testing.B) {
	kv := []any{"level", level.InfoValue(), "ts", time.Now(), "service", "grading", "msg", "request", "method", "GET",
		"path", "/students/1", "status", 200, "took", 153 * time.Microsecond, "request_id", "69aa7ed7c70b0ad0325f7587"}
	line, err := logclient.EntryFromKeyvals(kv, "grading", "127.0.0.1:6000", time.Now()).MarshalJSON()
	if err != nil {
		b.Fatal(err)
	}
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
