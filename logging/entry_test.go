package logging

import (
	"runtime"
	"testing"
	"time"
)

// BenchmarkDecodeBatch decodes a POST /v1/logs body of 100 typical entries (one op is the batch)
// and reports the cost per entry.
func BenchmarkDecodeBatch(b *testing.B) {
	const n = 100
	body := typicalBatch(b, n)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		if _, err := DecodeBatch(body, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	ops := float64(b.N) * n
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/ops, "ns/entry")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/ops, "allocs/entry")
}
