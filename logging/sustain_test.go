package logging

import (
	"bufio"
	"bytes"
	"context"
	"os"
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

// sustained is what one run of sustain saw.
type sustained struct {
	logged, dropped, stored int
	took                    time.Duration // from the first entry logged to the last one stored
	serviceCPU              time.Duration // the log service's CPU time over the run
}

// sustain logs rate entries a second for d through a Shipper with its default options to a
// logservice process, closes the Shipper (which ships what is queued), and counts the entries
// the log service's file holds.
func sustain(tb testing.TB, rate int, d time.Duration) sustained {
	tb.Helper()
	lp := startLogProcess(tb)
	reg := telemetry.New()
	const service = "sustain-test"
	sh := logclient.NewShipper(sd.FixedInstancer{lp.addr}, logclient.ShipperOptions{Service: service, Instance: "127.0.0.1:6000", Metrics: reg})
	logger := level.Info(log.With(sh, "ts", logx.Timestamp))
	cpu0 := cpuTime(tb, lp.pid)
	start := time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var res sustained
	for now := start; now.Sub(start) < d; now = <-tick.C {
		// Catch up to the rate, so that a late tick does not lower it.
		for due := int(now.Sub(start).Seconds() * float64(rate)); res.logged < due; res.logged++ {
			logger.Log("request_id", "69aa7ed7c70b0ad0325f7587", "msg", "request", "method", "GET",
				"path", "/students/1", "status", 200, "took", 153*time.Microsecond, "i", res.logged)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sh.Close(ctx); err != nil {
		tb.Errorf("closing the shipper: %v", err)
	}
	res.took = time.Since(start)
	res.serviceCPU = cpuTime(tb, lp.pid) - cpu0
	res.dropped = int(testkit.ShipperDropped(tb, reg.Gatherer()))
	res.stored = countMatching(tb, lp.file, []byte(`"service":"`+service+`"`))
	return res
}

// countMatching counts the lines of the file at path that contain sub.
func countMatching(tb testing.TB, path string, sub []byte) int {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 1<<20)
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), sub) {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return n
}

// TestShipperSustainedShort ships 3 s of entries from a Shipper to a logservice process and checks
// every one of them: none dropped, each stored once. The whole run (7,500 entries) fits in the
// Shipper's queue (logclient.DefaultQueueSize), so a machine too busy to keep up cannot make an entry drop: what this test
// catches is an entry lost or stored twice on the way. The rate a busy machine keeps up with is
// BenchmarkShipperSustained's to measure.
func TestShipperSustainedShort(t *testing.T) {
	res := sustain(t, 2500, 3*time.Second)
	t.Logf("figure: log: %d entries logged in 3 s, %d dropped, %d stored; the log service used %v of CPU",
		res.logged, res.dropped, res.stored, res.serviceCPU)
	if res.dropped != 0 || res.stored != res.logged {
		t.Errorf("%d entries logged, %d dropped, %d stored; want none dropped and every one stored once", res.logged, res.dropped, res.stored)
	}
}

// BenchmarkShipperSustained is the sustained load: 20,000 entries a second for 30 s from a
// Shipper to a logservice process. It reports the entries dropped (the Shipper's counter) and
// missing from the file, which should both be 0, and the log service's CPU time per entry. Run it
// with -benchtime 1x: one op is the whole 30 s.
func BenchmarkShipperSustained(b *testing.B) {
	const rate, d = 20000, 30 * time.Second
	for range b.N {
		res := sustain(b, rate, d)
		b.ReportMetric(float64(res.logged), "logged")
		b.ReportMetric(float64(res.dropped), "dropped")
		b.ReportMetric(float64(res.logged-res.stored), "missing")
		b.ReportMetric(float64(res.stored)/res.took.Seconds(), "stored/s")
		b.ReportMetric(float64(res.serviceCPU.Nanoseconds())/float64(res.logged), "svc-cpu-ns/entry")
	}
}
