package logging

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/go-kit/kit/metrics"
	"github.com/go-kit/kit/metrics/discard"
	"github.com/go-kit/log"

	"github.com/gradebook/gradebook/logging/logclient"
	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/idempotency"
	"github.com/gradebook/gradebook/pkg/telemetry"
)

// Service is the log service: it keeps entries and answers recent ones.
type Service interface {
	// Append stores a batch durably: when it returns nil, every entry is on disk. A non-empty
	// key (at most idempotency.MaxKeyLen bytes) names the batch, so that a batch sent again
	// after its answer was lost is not stored twice: Append then stores nothing and reports
	// duplicate. While another call is storing the same key it fails with ErrBatchPending.
	Append(ctx context.Context, key string, entries []logclient.Entry) (duplicate bool, err error)
	// Recent returns the newest entries that match q, newest last, as their stored JSON.
	Recent(ctx context.Context, q Query) ([]json.RawMessage, error)
}

// ErrBatchPending is Append's answer for a key whose batch another call is storing right now:
// the caller should try again shortly, and will then learn whether it was stored.
var ErrBatchPending error = errs.New(errs.ErrConflict, "a batch with this idempotency key is being stored; try again")

// Sources of entries, the label that tells the service's own entries from the rest.
const (
	sourceRemote = "remote" // sent to the service, by a shipper or the course's POST /log
	sourceSelf   = "self"   // the log service's own, written by Logger
)

// rememberedKeys is how many idempotency keys of stored batches the service remembers. A
// shipper retries one batch at a time, so this covers thousands of shippers' last batches.
const rememberedKeys = 4096

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
		entries:    reg.Counter("log", "entries_received_total", "Log entries stored, by source: remote (sent to the log service) or self (its own).", "source"),
		batches:    reg.Counter("log", "batches_received_total", "Batches of log entries stored, by source: remote (sent to the log service) or self (its own).", "source"),
		bytes:      reg.Counter("log", "bytes_written_total", "Bytes appended to the log file."),
		fileErrors: reg.Counter("log", "file_errors_total", "Failed writes or fsyncs of the log file."),
	}
}

// StoreService is the Service over a Store. The idempotency keys it remembers live in memory: a
// retry that reaches a restarted log service may be stored twice, which is the at-least-once the
// shippers promise.
type StoreService struct {
	store   *Store
	keys    *batchKeys
	metrics storeMetrics
}

var _ Service = (*StoreService)(nil)

// NewService returns the log service over store, counting its work on reg (which may be nil).
func NewService(store *Store, reg *telemetry.Metrics) *StoreService {
	return &StoreService{store: store, keys: newBatchKeys(rememberedKeys), metrics: newStoreMetrics(reg, store)}
}

func (s *StoreService) Append(_ context.Context, key string, entries []logclient.Entry) (bool, error) {
	if problem := idempotency.Check(key); problem != "" {
		return false, errs.FieldErrors{"idempotencyKey": problem}
	}
	if key != "" {
		switch s.keys.begin(key) {
		case keyDone:
			return true, nil
		case keyPending:
			return false, ErrBatchPending
		}
	}
	err := s.append(sourceRemote, entries, true)
	if key != "" {
		s.keys.end(key, err == nil)
	}
	return false, err
}

func (s *StoreService) append(source string, entries []logclient.Entry, durable bool) error {
	n, err := s.store.Append(entries, durable)
	if n > 0 {
		s.metrics.bytes.Add(float64(n))
	}
	if err != nil {
		s.metrics.fileErrors.Add(1)
		return storageError(err)
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
		return s.append(sourceSelf, []logclient.Entry{e}, false)
	})
}

type keyState int

const (
	keyNew keyState = iota
	keyPending
	keyDone
)

// batchKeys remembers the idempotency keys of the last batches stored, a bounded number of them,
// oldest forgotten first.
type batchKeys struct {
	mu    sync.Mutex
	state map[string]keyState
	order []string // ring of remembered keys
	next  int
}

func newBatchKeys(n int) *batchKeys {
	return &batchKeys{state: make(map[string]keyState, n), order: make([]string, n)}
}

// begin claims key for storing, unless it is stored already or being stored.
func (k *batchKeys) begin(key string) keyState {
	k.mu.Lock()
	defer k.mu.Unlock()
	if st, ok := k.state[key]; ok {
		return st
	}
	k.state[key] = keyPending
	return keyNew
}

// end records that key's batch was stored (or forgets the key, so that a retry can store it).
func (k *batchKeys) end(key string, stored bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !stored {
		delete(k.state, key)
		return
	}
	k.state[key] = keyDone
	if old := k.order[k.next]; old != "" {
		delete(k.state, old)
	}
	k.order[k.next] = key
	k.next = (k.next + 1) % len(k.order)
}

// storageError is how a failed write of the log file is answered: "storage unavailable: <class>"
// (an errs.StorageError, 503), with the class of a storage failure ("disk full", "read-only file
// system"...) or "write failed", and never the file's path, which the cause keeps for the log.
func storageError(err error) error {
	if err == nil {
		return nil
	}
	var se *errs.StorageError
	if errors.As(errs.Storage(err), &se) {
		return se
	}
	if errors.Is(err, ErrClosed) {
		return &errs.StorageError{Class: "closed", Cause: err}
	}
	return &errs.StorageError{Class: "write failed", Cause: err}
}
