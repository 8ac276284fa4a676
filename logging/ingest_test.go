package logging

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gradebook/gradebook/logging/logclient"
	"github.com/gradebook/gradebook/pkg/idempotency"
)

// typicalLine is one entry as a service's shipper sends it: an access-log line of a traced request.
func typicalLine(tb testing.TB, i int) []byte {
	tb.Helper()
	kv := []any{"level", "info", "ts", time.Now(), "request_id", fmt.Sprintf("69aa7ed7c70b0ad0325f%04d", i%10000),
		"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736", "span_id", "00f067aa0ba902b7",
		"msg", "request", "method", "GET", "path", "/students/" + strconv.Itoa(i%500), "status", 200, "took", 153 * time.Microsecond}
	line, err := logclient.EntryFromKeyvals(kv, "grading", "127.0.0.1:6000", time.Now()).MarshalJSON()
	if err != nil {
		tb.Fatal(err)
	}
	return line
}

// typicalBatch is a POST /v1/logs body of n typical entries.
func typicalBatch(tb testing.TB, n int) []byte {
	body := []byte{'['}
	for i := range n {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, typicalLine(tb, i)...)
	}
	return append(body, ']')
}

// BenchmarkIngest is the log service's ingest end to end: the logservice command runs as a
// process of its own, and this one POSTs batches of typical entries to it over keep-alive
// connections, each with its own Idempotency-Key as a shipper sends them, each answered only
// once it is fsynced. One op is one batch. It reports entries/s through the whole path, the log
// service's CPU time per entry (from its /proc/<pid>/stat), and entries per CPU-second of the
// log service, which is its ingest rate on one core.
func BenchmarkIngest(b *testing.B) {
	for _, bc := range []struct{ batch, senders int }{{500, 4}, {100, 16}} {
		b.Run(fmt.Sprintf("batch=%d/senders=%d", bc.batch, bc.senders), func(b *testing.B) {
			lp := startLogProcess(b)
			body := typicalBatch(b, bc.batch)
			url := "http://" + lp.addr + "/v1/logs"
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: bc.senders}}
			defer client.CloseIdleConnections()
			post := func(key string) error {
				req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				if err != nil {
					return err
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(idempotency.Header, key)
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				answer, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("POST /v1/logs: %s %s", resp.Status, answer)
				}
				return nil
			}
			// Warm up: connections open, the file exists, the window has started filling.
			for i := range bc.senders {
				if err := post("warm-" + strconv.Itoa(i)); err != nil {
					b.Fatal(err)
				}
			}
			work := make(chan int, bc.senders)
			var failed atomic.Pointer[error]
			var wg sync.WaitGroup
			for range bc.senders {
				wg.Go(func() {
					for i := range work {
						if err := post("batch-" + strconv.Itoa(i)); err != nil {
							failed.CompareAndSwap(nil, &err)
						}
					}
				})
			}
			cpu0 := cpuTime(b, lp.pid)
			start := time.Now()
			n := 0
			for b.Loop() {
				work <- n
				n++
			}
			close(work)
			wg.Wait()
			elapsed := time.Since(start)
			cpu := cpuTime(b, lp.pid) - cpu0
			if err := failed.Load(); err != nil {
				b.Fatal(*err)
			}
			entries := float64(n * bc.batch)
			b.ReportMetric(entries/elapsed.Seconds(), "entries/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/entries, "svc-cpu-ns/entry")
			if cpu > 0 {
				b.ReportMetric(entries/cpu.Seconds(), "entries/cpu-s")
			}
		})
	}
}
