package logging

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-kit/kit/metrics"
	"github.com/go-kit/kit/metrics/discard"
	"github.com/go-kit/log"

	"github.com/gradebook/gradebook/logging/logclient"
	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/telemetry"
)

// Service is the log service: it keeps entries and answers recent ones.
type Service interface {
	// Append stores a batch durably: when it returns nil, every entry is on disk. source names
	// where the batch came from ("v1", "seed") for the metrics.
	Append(ctx context.Context, source string, entries []logclient.Entry) error
	// Recent returns the newest entries that match q, newest last, as their stored JSON.
	Recent(ctx context.Context, q Query) ([]json.RawMessage, error)
}

// storeMetrics are the log service's own gauges of its work.
type storeMetrics struct {
	entries    metrics.Counter // by source
	batches    metrics.Counter // by source
	bytes      metrics.Counter
	fileErrors metrics.Counter
}

func newStoreMetrics(reg *telemetry.Metrics, store *Store) storeMetrics {
	if reg == nil {
		return storeMetrics{discard.NewCounter(), discard.NewCounter(), discard.NewCounter(), discard.NewCounter()}
	}
	reg.GaugeFunc("log", "window_entries", "Entries held in memory to answer GET /v1/logs.", func() float64 { return float64(store.Len()) })
	reg.GaugeFunc("log", "window_bytes", "Encoded bytes of the entries held in memory to answer GET /v1/logs.", func() float64 { return float64(store.Bytes()) })
	return storeMetrics{
		entries:    reg.Counter("log", "entries_received_total", "Log entries stored, by source (v1, seed, self).", "source"),
		batches:    reg.Counter("log", "batches_received_total", "Batches of log entries stored, by source (v1, seed, self).", "source"),
		bytes:      reg.Counter("log", "bytes_written_total", "Bytes appended to the log file."),
		fileErrors: reg.Counter("log", "file_errors_total", "Failed writes or fsyncs of the log file."),
	}
}

// StoreService is the Service over a Store.
type StoreService struct {
	store   *Store
	metrics storeMetrics
}

var _ Service = (*StoreService)(nil)

// NewService returns the log service over store, counting its work on reg (which may be nil).
func NewService(store *Store, reg *telemetry.Metrics) *StoreService {
	return &StoreService{store: store, metrics: newStoreMetrics(reg, store)}
}

func (s *StoreService) Append(_ context.Context, source string, entries []logclient.Entry) error {
	return s.append(source, entries, true)
}

func (s *StoreService) append(source string, entries []logclient.Entry, durable bool) error {
	n, err := s.store.Append(entries, durable)
	if n > 0 {
		s.metrics.bytes.Add(float64(n))
	}
	if err != nil {
		s.metrics.fileErrors.Add(1)
		return fmt.Errorf("%w: the log file cannot be written: %v", errs.ErrUnavailable, err)
	}
	s.metrics.entries.With("source", source).Add(float64(len(entries)))
	s.metrics.batches.With("source", source).Add(1)
	return nil
}

func (s *StoreService) Recent(_ context.Context, q Query) ([]json.RawMessage, error) {
	return s.store.Recent(q), nil
}

// Logger returns a go-kit logger that writes the log service's own entries straight into its
// store, with no network hop. Those writes are not fsynced one by one: the next acknowledged
// batch's fsync, or Close, covers them. A failed write is counted and returned, never logged,
// since logging it would write into the very store that failed.
func (s *StoreService) Logger(service, instance string) log.Logger {
	return log.LoggerFunc(func(keyvals ...any) error {
		e := logclient.EntryFromKeyvals(keyvals, service, instance, time.Now())
		return s.append("self", []logclient.Entry{e}, false)
	})
}
