package logging

import (
	"context"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/logging/logclient"
	"github.com/gradebook/gradebook/pkg/telemetry"
)

// BenchmarkShipperLog is the cost of one Log call on a Shipper while it ships to a log service
// running as a process of its own (so that neither the service's CPU nor its allocations are
// counted here). The queue is kept from filling, with the timer stopped while it drains, so that
// what is measured is an entry accepted and shipped, not the cheaper path of one dropped. The
// allocations include the shipper's goroutine building and sending the batches.
func BenchmarkShipperLog(b *testing.B) {
	lp := startLogProcess(b)
	reg := telemetry.New()
	sh := logclient.NewShipper(sd.FixedInstancer{lp.addr}, logclient.ShipperOptions{Service: "grading", Instance: "127.0.0.1:6000", Metrics: reg})
	logger := log.With(sh, "ts", log.DefaultTimestampUTC)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%1000 == 0 && sh.Pending() > logclient.DefaultQueueSize/2 {
			b.StopTimer()
			for sh.Pending() > logclient.DefaultQueueSize/4 {
				time.Sleep(time.Millisecond)
			}
			b.StartTimer()
		}
		level.Info(logger).Log("request_id", "69aa7ed7c70b0ad0325f7587", "msg", "request", "method", "GET",
			"path", "/students/1", "status", 200, "took", 153*time.Microsecond)
	}
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sh.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(dropped(b, reg), "dropped")
}

// dropped is how many entries a Shipper counting on reg has dropped, for any reason.
func dropped(tb testing.TB, reg *telemetry.Metrics) float64 {
	tb.Helper()
	n := 0.0
	for _, reason := range []string{"queue_full", "rejected", "closed"} {
		n += testkit.MetricValue(tb, reg.Gatherer(), "gradebook_log_shipper_dropped_entries_total", "reason", reason)
	}
	return n
}
