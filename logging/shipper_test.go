package logging

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/logging/logclient"
	"github.com/gradebook/gradebook/pkg/logx"
	"github.com/gradebook/gradebook/pkg/telemetry"
)

// BenchmarkShipperLog is the cost of one Log call on a Shipper while it ships to a log service
// running as a process of its own (so that neither the service's CPU nor its allocations are
// counted here). The queue is kept from filling, with the timer stopped while it drains, so that
// what is measured is an entry accepted and shipped, not the cheaper path of one dropped. The
// allocations include the shipper's goroutines building and sending the batches. So does
// proc-cpu-ns/log: this process's CPU time (user and system, from getrusage) from the first Log
// to the last entry acknowledged, over the calls: the whole cost of a logged line on the logging
// side, which the machine's load does not inflate as it does wall time.
//
// Two callers: caller=shipper calls Shipper.Log with an access-log entry's key-value pairs as a
// service's logger hands them over (timestamp, service, level and the line's own pairs, in one
// slice): the shipper's own cost. caller=go-kit logs the same line through go-kit, with the
// timestamp bound as the services bind it (logx.Timestamp) and a level logger made per call:
// what go-kit adds (binding the timestamp, copying the pairs) is counted too.
func BenchmarkShipperLog(b *testing.B) {
	ts := any(time.Date(2026, 11, 30, 10, 0, 0, 123456789, time.UTC))
	entry := []any{"ts", ts, "service", "grading", "level", level.InfoValue(), "request_id", "69aa7ed7c70b0ad0325f7587",
		"msg", "request", "method", "GET", "path", "/students/1", "status", 200, "took", 153 * time.Microsecond}
	b.Run("caller=shipper", func(b *testing.B) {
		benchmarkShipperLog(b, func(sh *logclient.Shipper) func() {
			return func() { _ = sh.Log(entry...) }
		})
	})
	b.Run("caller=go-kit", func(b *testing.B) {
		benchmarkShipperLog(b, func(sh *logclient.Shipper) func() {
			logger := log.With(sh, "ts", logx.Timestamp, "service", "grading")
			return func() {
				level.Info(logger).Log("request_id", "69aa7ed7c70b0ad0325f7587", "msg", "request", "method", "GET",
					"path", "/students/1", "status", 200, "took", 153*time.Microsecond)
			}
		})
	})
}

func benchmarkShipperLog(b *testing.B, caller func(*logclient.Shipper) func()) {
	lp := startLogProcess(b)
	reg := telemetry.New()
	sh := logclient.NewShipper(sd.FixedInstancer{lp.addr}, logclient.ShipperOptions{Service: "grading", Instance: "127.0.0.1:6000", Metrics: reg})
	logLine := caller(sh)
	b.ReportAllocs()
	cpu0 := processCPU(b)
	b.ResetTimer()
	for i := range b.N {
		if i%1000 == 0 && sh.Pending() > logclient.DefaultQueueSize/2 {
			b.StopTimer()
			for sh.Pending() > logclient.DefaultQueueSize/4 {
				time.Sleep(time.Millisecond)
			}
			b.StartTimer()
		}
		logLine()
	}
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sh.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(b.N), "proc-cpu-ns/log")
	b.ReportMetric(testkit.ShipperDropped(b, reg.Gatherer()), "dropped")
}

// processCPU is the user and system CPU time this process has used.
func processCPU(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
