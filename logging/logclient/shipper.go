package logclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/metrics"
	"github.com/go-kit/kit/metrics/discard"
	"github.com/go-kit/kit/sd"
	"github.com/go-kit/kit/sd/lb"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/gradebook/gradebook/pkg/idempotency"
	"github.com/gradebook/gradebook/pkg/requestid"
	"github.com/gradebook/gradebook/pkg/telemetry"
	"github.com/gradebook/gradebook/pkg/text"
)

// ServiceName is the name the log service registers under, and the one shippers and readers
// look up.
const ServiceName = "log"

// Shipper defaults.
const (
	DefaultQueueSize     = 50000
	DefaultQueueBytes    = 16 << 20
	DefaultBatchSize     = 1000
	DefaultMaxInFlight   = 8
	DefaultFlushInterval = 200 * time.Millisecond
	DefaultMinBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff    = 5 * time.Second
	// attemptTimeout bounds one POST, so that a log instance that accepts and then hangs is
	// given up on and retried rather than stalling the queue.
	attemptTimeout = 5 * time.Second
	// maxBatchBytes keeps a batch body well under the log service's 1 MiB limit, even after one
	// more entry of up to MaxEntryBytes is added to a batch that is just under it.
	maxBatchBytes = 512 << 10
)

// ShipperOptions configure a Shipper. Zero values take the defaults above.
type ShipperOptions struct {
	// Service and Instance stamp every entry (a "service" key in a log call wins over Service).
	Service  string
	Instance string
	// QueueSize bounds the entries not yet shipped (gathered, waiting or in flight), QueueBytes
	// their encoded size; an entry logged when either is reached is dropped and counted.
	QueueSize  int
	QueueBytes int
	// BatchSize is the most entries sent in one POST (at most MaxBatchEntries).
	BatchSize int
	// MaxInFlight is the most batches being sent at once (1: strictly one after another, in
	// order).
	MaxInFlight int
	// FlushInterval is how long the first entry of a batch waits for company.
	FlushInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait between attempts while no log instance takes a
	// batch: it doubles from MinBackoff up to MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Client sends the batches; by default a client of the Shipper's own.
	Client *http.Client
	// Token, when set, is sent as "Authorization: Bearer <Token>" (the log service's -token).
	Token string
	// Stderr receives the Shipper's own troubles (outages, drops). It must not lead back into
	// the Shipper: give it a logger that writes to stderr only, such as StderrLogger's.
	Stderr log.Logger
	// Metrics, when set, gets the dropped-entries counter and the queue-depth gauge (names are
	// fixed, so one Shipper per Metrics).
	Metrics *telemetry.Metrics
}

// Shipper is a go-kit log.Logger that ships entries in batches to the log service. Log never
// blocks on the network: it encodes the entry straight into the batch being gathered, or drops
// and counts it when the queue is full. A batch is sealed when it holds BatchSize entries (or
// about 512 KiB), when its first entry has waited FlushInterval, or by Flush; sealed batches are
// sent in the order they were sealed, at most MaxInFlight at once, each to an instance found
// through the Instancer and retried with capped exponential backoff until one takes it.
//
// Order: the entries of one batch are stored in the order they were logged. Batches in flight
// together are stored in the order the log service finishes them, which may differ from the
// order they were sent by a batch or two; each entry keeps the time it was logged. Once an
// attempt has failed, batches go one at a time, oldest first, until every batch sealed before the
// log service took one again is delivered (those that failed, and those that waited behind them),
// so entries held through an outage arrive in order, and before any logged after it.
type Shipper struct {
	opts       ShipperOptions
	client     *http.Client
	ownClient  bool
	endpointer *sd.DefaultEndpointer
	balancer   lb.Balancer

	// mu guards the batch being gathered, the bounds' counts and the settling order. Log holds
	// it while it encodes an entry into the batch when no other call is adding one.
	mu       sync.Mutex
	cur      *batch
	pending  int // entries accepted and not yet settled
	bytes    int // their encoded size
	accepted uint64
	sealed   uint64 // batches sealed so far; the last one's number
	// nextSettle is the number of the first batch not yet settled; early holds the last entry
	// number of batches settled before it. watermark is the number of the last entry such that
	// it and every entry before it are settled.
	nextSettle uint64
	early      map[uint64]uint64
	watermark  uint64
	progress   chan struct{} // closed and replaced whenever a batch is settled
	retrying   int           // batches sealed and not settled that have had a failed attempt
	// catchUp is the number of the last batch sealed when an attempt last failed or when the log
	// service took a batch again after failures: until every batch up to it is settled, batches
	// go one at a time, oldest first.
	catchUp  uint64
	retryNow chan struct{} // closed and replaced by Flush: stop backing off

	sealedq []*batch // sealed batches not yet taken by a sender, oldest first (under mu)

	ready chan struct{} // a batch has been sealed: a sender should look
	wake  chan struct{} // a batch has its first entry: its flush timer should run

	// enqueued-settled = pending, read without the lock (Pending).
	enqueued   atomic.Uint64 // entries accepted by Log
	settled    atomic.Uint64 // entries shipped or given up on by the server's refusal
	closed     atomic.Bool
	dropWarned atomic.Bool
	failures   atomic.Uint64 // failed attempts: a Flush gives up once one of its own has failed
	// unreachable is true from a failed attempt until the next delivery succeeds; failing is
	// set by the attempt that reports an outage, so that it is reported once, not per attempt.
	unreachable atomic.Bool
	failing     atomic.Bool

	// stop is the one signal that ends the goroutines: it cancels the context they were
	// started with, which also aborts the POSTs in flight. done is closed when all have returned.
	stop     context.CancelFunc
	stopOnce sync.Once
	done     chan struct{}

	dropped metrics.Counter
	shipped metrics.Counter
	prefix  string
}

// batch is one POST body: the entries' JSON lines in an array.
type batch struct {
	body    []byte // "[" and the lines separated by ","; "]" is added when it is sealed
	entries int
	bytes   int       // the lines' sizes, as counted against QueueBytes
	first   time.Time // when its first entry was added
	seq     uint64    // its number, from 1, in the order batches are sealed
	last    uint64    // the number of its last entry, counted over all entries accepted
	failed  bool      // an attempt to send it has failed (owned by its sender until settled)
}

// batchBodies are the bodies of batches that have been sent, for the next ones to gather into.
var batchBodies = sync.Pool{New: func() any { return new(batch) }}

func newBatch() *batch {
	b := batchBodies.Get().(*batch)
	*b = batch{body: append(b.body[:0], '[')}
	return b
}

func releaseBatch(b *batch) {
	if cap(b.body) <= 1<<20 {
		batchBodies.Put(b)
	}
}

var _ log.Logger = (*Shipper)(nil)

// NewShipper starts a Shipper that sends to the instances instancer reports (nil: none yet).
func NewShipper(instancer sd.Instancer, opts ShipperOptions) *Shipper {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.QueueBytes <= 0 {
		opts.QueueBytes = DefaultQueueBytes
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	opts.BatchSize = min(opts.BatchSize, MaxBatchEntries)
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(DefaultMaxBackoff, opts.MinBackoff)
	}
	if opts.Stderr == nil {
		opts.Stderr = log.NewNopLogger()
	}
	if instancer == nil {
		instancer = sd.FixedInstancer{}
	}
	s := &Shipper{
		opts:       opts,
		client:     opts.Client,
		cur:        newBatch(),
		nextSettle: 1,
		early:      map[uint64]uint64{},
		progress:   make(chan struct{}),
		retryNow:   make(chan struct{}),
		ready:      make(chan struct{}, 1),
		wake:       make(chan struct{}, 1),
		done:       make(chan struct{}),
		dropped:    discard.NewCounter(),
		shipped:    discard.NewCounter(),
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: attemptTimeout}
		s.ownClient = true
	}
	if reg := opts.Metrics; reg != nil {
		s.dropped = reg.Counter("log_shipper", "dropped_entries_total", "Log entries not shipped to the log service, by reason: queue_full, rejected (refused by the log service), closed.", "reason")
		s.shipped = reg.Counter("log_shipper", "shipped_entries_total", "Log entries the log service has acknowledged.")
		reg.GaugeFunc("log_shipper", "queue_depth", "Log entries waiting to be shipped (gathered, queued or in flight).", func() float64 { return float64(s.Pending()) })
	}
	s.prefix = requestid.New()
	// Stderr already names the component (StderrLogger does); what the Endpointer reports is a
	// failed lookup of the log service's instances, retried: a warning.
	s.endpointer = sd.NewEndpointer(instancer, s.factory, level.Warn(opts.Stderr))
	s.balancer = lb.NewRoundRobin(s.endpointer)
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	var wg sync.WaitGroup
	wg.Go(func() { s.flushTimer(ctx) })
	for range opts.MaxInFlight {
		wg.Go(func() { s.sender(ctx) })
	}
	go func() { wg.Wait(); close(s.done) }()
	return s
}

// StderrLogger is a logfmt logger on w for a Shipper's own troubles: it stamps the time and the
// service, and never reaches a Shipper.
func StderrLogger(w io.Writer, service string) log.Logger {
	return log.With(log.NewLogfmtLogger(log.NewSyncWriter(w)), "ts", log.DefaultTimestampUTC, "service", service, "component", "log_shipper")
}

// Log implements log.Logger. It never blocks on the network and never fails: an entry that
// does not fit in the queue is dropped and counted.
func (s *Shipper) Log(keyvals ...any) error {
	if s.closed.Load() {
		s.dropped.With("reason", "closed").Add(1)
		return nil
	}
	if s.Pending() >= s.opts.QueueSize {
		// Full already: do not spend the encoding on an entry that will be dropped.
		s.drop()
		return nil
	}
	var (
		b    *batch
		bp   *[]byte // the pooled buffer line is in, if not in b's body
		line []byte
	)
	if s.mu.TryLock() {
		// No other call is adding an entry: encode this one straight into the body of the
		// batch being gathered, and take it out again if it does not fit.
		b = s.cur
		mark := len(b.body)
		if b.entries > 0 {
			b.body = append(b.body, ',')
		}
		n := len(b.body)
		b.body = appendKeyvals(b.body, keyvals, s.opts.Service, s.opts.Instance, time.Time{})
		line = b.body[n:]
		if !s.fitsLocked(len(line)) {
			b.body = b.body[:mark]
			s.mu.Unlock()
			s.drop()
			return nil
		}
	} else {
		// Another call holds the lock: encode beside it, and copy the line in.
		bp = encodeBuffers.Get().(*[]byte)
		line = appendKeyvals((*bp)[:0], keyvals, s.opts.Service, s.opts.Instance, time.Time{})
		s.mu.Lock()
		if !s.fitsLocked(len(line)) {
			s.mu.Unlock()
			putEncodeBuffer(bp, line)
			s.drop()
			return nil
		}
		b = s.cur
		if b.entries > 0 {
			b.body = append(b.body, ',')
		}
		b.body = append(b.body, line...)
	}
	first := b.entries == 0
	if first {
		b.first = time.Now()
	}
	b.entries++
	b.bytes += len(line)
	s.pending++
	s.bytes += len(line)
	s.accepted++
	s.enqueued.Add(1)
	if b.entries >= s.opts.BatchSize || len(b.body) >= maxBatchBytes {
		s.sealLocked()
		first = false
	}
	s.mu.Unlock()
	if bp != nil {
		putEncodeBuffer(bp, line)
	}
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// fitsLocked reports whether an entry of n bytes fits in the queue's bounds. s.mu is held.
func (s *Shipper) fitsLocked(n int) bool {
	return s.pending < s.opts.QueueSize && s.bytes+n <= s.opts.QueueBytes
}

// sealLocked closes the batch being gathered, which holds at least one entry, and queues it to
// be sent. s.mu is held.
func (s *Shipper) sealLocked() {
	b := s.cur
	b.body = append(b.body, ']')
	s.sealed++
	b.seq = s.sealed
	b.last = s.accepted
	s.cur = newBatch()
	s.sealedq = append(s.sealedq, b)
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

func (s *Shipper) drop() {
	s.dropped.With("reason", "queue_full").Add(1)
	if s.dropWarned.CompareAndSwap(false, true) {
		s.opts.Stderr.Log("level", "warn", "msg", "log queue is full: dropping entries until the log service takes some", "queue_size", s.opts.QueueSize)
	}
}

// Pending is the number of entries queued or in flight.
func (s *Shipper) Pending() int {
	return int(s.enqueued.Load() - min(s.settled.Load(), s.enqueued.Load()))
}

// flushTimer seals a batch once its first entry has waited FlushInterval, until ctx ends.
func (s *Shipper) flushTimer(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-s.wake:
		case <-ctx.Done():
			return
		}
		for {
			s.mu.Lock()
			b := s.cur
			if b.entries == 0 {
				s.mu.Unlock()
				break
			}
			wait := s.opts.FlushInterval - time.Since(b.first)
			if wait <= 0 {
				s.sealLocked()
				s.mu.Unlock()
				break
			}
			s.mu.Unlock()
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				return
			}
		}
	}
}

// sender sends sealed batches one at a time until ctx ends. MaxInFlight of them run.
func (s *Shipper) sender(ctx context.Context) {
	for {
		s.mu.Lock()
		if len(s.sealedq) == 0 {
			s.mu.Unlock()
			select {
			case <-s.ready:
				continue
			case <-ctx.Done():
				return
			}
		}
		b := s.sealedq[0]
		s.sealedq[0] = nil
		s.sealedq = s.sealedq[1:]
		more := len(s.sealedq) > 0
		s.mu.Unlock()
		if more {
			// Pass the word on, so that another sender takes the next batch.
			select {
			case s.ready <- struct{}{}:
			default:
			}
		}
		if !s.deliver(ctx, b) {
			return
		}
		s.settle(b)
	}
}

// encodeForShipping encodes e, cutting it down when it is larger than the log service accepts,
// so that one huge entry cannot get a whole batch refused.
func encodeForShipping(e Entry) []byte {
	line, err := e.MarshalJSON()
	if err == nil && len(line) <= MaxEntryBytes-1024 {
		return line
	}
	e.Msg = text.Truncate(e.Msg, 8<<10)
	fields := e.Fields
	e.Fields = map[string]json.RawMessage{}
	for k, v := range fields {
		if len(e.Fields) >= 32 {
			break
		}
		if len(v) > 1024 {
			v = jsonValue(text.Truncate(string(v), 1000) + "…")
		}
		e.Fields[k] = v
	}
	e.Fields["truncated"] = json.RawMessage("true")
	line, _ = e.MarshalJSON()
	return line
}

// errRejected marks a batch the log service refused as malformed: sending it again would not help.
type errRejected struct{ status, reason string }

func (e *errRejected) Error() string {
	return "log service refused the batch: " + e.status + ": " + e.reason
}

// factory makes the endpoint that POSTs a batch to one log instance.
func (s *Shipper) factory(instance string) (endpoint.Endpoint, io.Closer, error) {
	url := instanceURL(instance, "/v1/logs")
	return func(ctx context.Context, request any) (any, error) {
		batch, _ := request.(batchRequest)
		ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(batch.body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(idempotency.Header, batch.key)
		if s.opts.Token != "" {
			req.Header.Set("Authorization", "Bearer "+s.opts.Token)
		}
		resp, err := s.client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		reason, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection is reused
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return nil, nil
		case resp.StatusCode == http.StatusBadRequest, resp.StatusCode == http.StatusRequestEntityTooLarge:
			return nil, &errRejected{status: resp.Status, reason: strings.TrimSpace(string(reason))}
		default:
			return nil, fmt.Errorf("POST %s: %s", url, resp.Status)
		}
	}, nil, nil
}

// instanceURL is path on an instance as sd reports it: "host:port", or a base URL.
func instanceURL(instance, path string) string {
	base := instance
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return strings.TrimRight(base, "/") + path
}

// deliver sends one batch until an instance takes it or refuses it as malformed; it returns
// false if ctx ended (the Shipper was stopped) first.
func (s *Shipper) deliver(ctx context.Context, b *batch) bool {
	// One key for every attempt of this batch: a retry after a lost answer is not stored twice.
	key := s.prefix + "-" + strconv.FormatUint(b.seq, 10)
	wait := s.opts.MinBackoff
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if !s.takeTurn(ctx, b) {
			return false
		}
		err := s.send(ctx, batchRequest{key: key, body: b.body})
		var rej *errRejected
		switch {
		case err == nil:
			s.shipped.Add(float64(b.entries))
			if s.unreachable.Swap(false) {
				// What was sealed during the outage, failed or not, is delivered in order too.
				s.mu.Lock()
				s.catchUp = max(s.catchUp, s.sealed)
				s.mu.Unlock()
			}
			if s.failing.CompareAndSwap(true, false) {
				s.opts.Stderr.Log("level", "info", "msg", "log service reachable again; shipping the queued entries", "queued", s.Pending())
			}
			s.dropWarned.Store(false)
			return true
		case errors.As(err, &rej):
			s.dropped.With("reason", "rejected").Add(float64(b.entries))
			s.opts.Stderr.Log("level", "error", "msg", "log service refused a batch; dropped it", "entries", b.entries, "err", err)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		s.failures.Add(1)
		s.unreachable.Store(true)
		s.mu.Lock()
		if !b.failed {
			b.failed = true
			s.retrying++
		}
		s.catchUp = max(s.catchUp, s.sealed)
		s.mu.Unlock()
		if s.failing.CompareAndSwap(false, true) {
			s.opts.Stderr.Log("level", "warn", "msg", "cannot ship logs; queueing and retrying with backoff", "err", err)
		}
		s.mu.Lock()
		retryNow := s.retryNow
		s.mu.Unlock()
		// Jitter spreads the retries of many services after a shared outage.
		timer.Reset(wait/2 + rand.N(wait/2+1))
		select {
		case <-timer.C:
		case <-retryNow: // a Flush is waiting: try now
		case <-ctx.Done():
			return false
		}
		wait = min(wait*2, s.opts.MaxBackoff)
	}
}

// takeTurn waits, while any batch has had a failed attempt or a batch up to catchUp is not
// settled, until b is the oldest batch not settled, so that what was held through an outage is
// delivered in order; it returns false if ctx ended first.
func (s *Shipper) takeTurn(ctx context.Context, b *batch) bool {
	for {
		s.mu.Lock()
		if s.nextSettle == b.seq || (s.retrying == 0 && s.nextSettle > s.catchUp) {
			s.mu.Unlock()
			return true
		}
		progress := s.progress
		s.mu.Unlock()
		select {
		case <-progress:
		case <-ctx.Done():
			return false
		}
	}
}

type batchRequest struct {
	key  string
	body []byte
}

func (s *Shipper) send(ctx context.Context, req batchRequest) error {
	ep, err := s.balancer.Endpoint()
	if err != nil {
		return fmt.Errorf("no log service instance: %w", err)
	}
	_, err = ep(ctx, req)
	return err
}

// settle records b as shipped (or refused): its entries leave the bounds, and the watermark
// Flush waits on moves once every batch sealed before b is settled too.
func (s *Shipper) settle(b *batch) {
	s.mu.Lock()
	s.pending -= b.entries
	s.bytes -= b.bytes
	s.settled.Add(uint64(b.entries))
	if b.failed {
		s.retrying--
	}
	if b.seq != s.nextSettle {
		s.early[b.seq] = b.last
	} else {
		s.watermark = b.last
		s.nextSettle++
		for {
			last, ok := s.early[s.nextSettle]
			if !ok {
				break
			}
			delete(s.early, s.nextSettle)
			s.watermark = last
			s.nextSettle++
		}
	}
	close(s.progress)
	s.progress = make(chan struct{})
	s.mu.Unlock()
	releaseBatch(b)
}

// Flush waits until every entry logged before the call has been shipped (or refused by the log
// service), or ctx ends; the batch being gathered is sealed and sent at once rather than after
// FlushInterval, and batches waiting out a backoff are tried again now.
func (s *Shipper) Flush(ctx context.Context) error {
	failuresBefore := s.failures.Load()
	s.mu.Lock()
	target := s.accepted
	if s.watermark >= target {
		s.mu.Unlock()
		return nil
	}
	if s.cur.entries > 0 {
		s.sealLocked()
	}
	close(s.retryNow)
	s.retryNow = make(chan struct{})
	s.mu.Unlock()
	for {
		s.mu.Lock()
		progress, watermark := s.progress, s.watermark
		s.mu.Unlock()
		if watermark >= target {
			return nil
		}
		if s.unreachable.Load() && attempted(s, failuresBefore) {
			// Nobody is there to take them: report now rather than hold a shutdown up.
			return fmt.Errorf("log shipper: %d entries not shipped: no log service instance is reachable", target-watermark)
		}
		select {
		case <-progress:
		case <-time.After(flushRecheck):
		case <-ctx.Done():
			return fmt.Errorf("log shipper: %d entries not shipped: %w", target-watermark, ctx.Err())
		case <-s.done:
			return fmt.Errorf("log shipper: stopped with %d entries not shipped", target-watermark)
		}
	}
}

// flushRecheck is how often a waiting Flush looks whether the log service has become unreachable.
const flushRecheck = 20 * time.Millisecond

// attempted reports whether the Shipper has tried to deliver since failures read before.
// A Flush gives up only after an attempt of its own has failed, so that a log service that is
// merely slow to answer still gets the entries.
func attempted(s *Shipper, before uint64) bool { return s.failures.Load() > before }

// Close stops taking entries, flushes what is queued (bounded by ctx), and stops the goroutines.
// Entries still queued when ctx ends are counted as dropped.
func (s *Shipper) Close(ctx context.Context) error {
	s.closed.Store(true)
	err := s.Flush(ctx)
	s.stopOnce.Do(func() {
		s.stop()
		<-s.done
		s.endpointer.Close()
		if left := s.Pending(); left > 0 {
			s.dropped.With("reason", "closed").Add(float64(left))
		}
		if s.ownClient {
			s.client.CloseIdleConnections()
		}
	})
	return err
}
