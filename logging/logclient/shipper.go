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
	DefaultQueueSize     = 10000
	DefaultQueueBytes    = 16 << 20
	DefaultBatchSize     = 500
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
	// QueueSize bounds the entries waiting to be shipped, QueueBytes their encoded size; an
	// entry logged when either is reached is dropped and counted.
	QueueSize  int
	QueueBytes int
	// BatchSize is the most entries sent in one POST (at most MaxBatchEntries).
	BatchSize int
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
// blocks: it encodes the entry and queues it, or drops and counts it when the queue is full. One
// goroutine, stopped by Close, sends the batches in order to an instance found through the
// Instancer, retrying with capped exponential backoff while none takes them.
type Shipper struct {
	opts       ShipperOptions
	client     *http.Client
	ownClient  bool
	endpointer *sd.DefaultEndpointer
	balancer   lb.Balancer

	queue       chan []byte
	queuedBytes atomic.Int64
	enqueued    atomic.Uint64 // entries accepted by Log
	settled     atomic.Uint64 // entries shipped or given up on by the server's refusal
	closed      atomic.Bool
	dropWarned  atomic.Bool
	urgent      atomic.Int32 // Flush calls waiting: ship without waiting for FlushInterval
	kick        chan struct{}
	failures    atomic.Uint64 // failed attempts: a Flush gives up once one of its own has failed

	mu       sync.Mutex
	progress chan struct{} // closed and replaced whenever settled moves

	// stop is the one signal that ends the run goroutine: it cancels the context run was
	// started with, which also aborts a POST in flight. done is closed when run has returned.
	stop     context.CancelFunc
	stopOnce sync.Once
	done     chan struct{}

	dropped metrics.Counter
	shipped metrics.Counter
	// unreachable is true from a failed attempt until the next delivery succeeds.
	unreachable atomic.Bool
	failing     bool // owned by the run goroutine: an outage is reported once, not per attempt
	prefix      string
	batches     uint64 // owned by the run goroutine
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
		opts:     opts,
		client:   opts.Client,
		queue:    make(chan []byte, opts.QueueSize),
		kick:     make(chan struct{}, 1),
		progress: make(chan struct{}),
		done:     make(chan struct{}),
		dropped:  discard.NewCounter(),
		shipped:  discard.NewCounter(),
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: attemptTimeout}
		s.ownClient = true
	}
	if reg := opts.Metrics; reg != nil {
		s.dropped = reg.Counter("log_shipper", "dropped_entries_total", "Log entries not shipped to the log service, by reason: queue_full, rejected (refused by the log service), closed.", "reason")
		s.shipped = reg.Counter("log_shipper", "shipped_entries_total", "Log entries the log service has acknowledged.")
		reg.GaugeFunc("log_shipper", "queue_depth", "Log entries waiting to be shipped.", func() float64 { return float64(len(s.queue)) })
	}
	s.prefix = requestid.New()
	s.endpointer = sd.NewEndpointer(instancer, s.factory, log.With(opts.Stderr, "component", "log_shipper"))
	s.balancer = lb.NewRoundRobin(s.endpointer)
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	go s.run(ctx)
	return s
}

// StderrLogger is a logfmt logger on w for a Shipper's own troubles: it stamps the time and the
// service, and never reaches a Shipper.
func StderrLogger(w io.Writer, service string) log.Logger {
	return log.With(log.NewLogfmtLogger(log.NewSyncWriter(w)), "ts", log.DefaultTimestampUTC, "service", service, "component", "log_shipper")
}

// Log implements log.Logger. It never blocks and never fails: an entry that does not fit in the
// queue is dropped and counted.
func (s *Shipper) Log(keyvals ...any) error {
	if s.closed.Load() {
		s.dropped.With("reason", "closed").Add(1)
		return nil
	}
	if len(s.queue) == cap(s.queue) {
		// Full already: do not spend the encoding on an entry that will be dropped.
		s.drop()
		return nil
	}
	line := encodeKeyvals(keyvals, s.opts.Service, s.opts.Instance, time.Now())
	n := int64(len(line))
	if s.queuedBytes.Add(n) > int64(s.opts.QueueBytes) {
		s.queuedBytes.Add(-n)
		s.drop()
		return nil
	}
	select {
	case s.queue <- line:
		s.enqueued.Add(1)
	default:
		s.queuedBytes.Add(-n)
		s.drop()
	}
	return nil
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

// run owns the queue's receiving end: it gathers batches and delivers them one at a time, in
// order, until ctx ends (Close calls stop).
func (s *Shipper) run(ctx context.Context) {
	defer close(s.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var batch [][]byte
	size := 0
	take := func(line []byte) {
		s.queuedBytes.Add(-int64(len(line)))
		batch = append(batch, line)
		size += len(line) + 1
	}
	for {
		if len(batch) == 0 {
			select {
			case line := <-s.queue:
				take(line)
			case <-ctx.Done():
				return
			}
		}
		timer.Reset(s.opts.FlushInterval)
	gather:
		for len(batch) < s.opts.BatchSize && size < maxBatchBytes {
			if s.urgent.Load() > 0 {
				select {
				case line := <-s.queue:
					take(line)
					continue
				default:
					break gather
				}
			}
			select {
			case line := <-s.queue:
				take(line)
			case <-timer.C:
				break gather
			case <-s.kick:
			case <-ctx.Done():
				timer.Stop()
				return
			}
		}
		timer.Stop()
		if !s.deliver(ctx, batch) {
			return
		}
		s.settle(len(batch))
		clear(batch)
		batch, size = batch[:0], 0
	}
}

// deliver sends one batch until an instance takes it or refuses it as malformed; it returns
// false if ctx ended (the Shipper was stopped) first.
func (s *Shipper) deliver(ctx context.Context, batch [][]byte) bool {
	n := 2 + len(batch)
	for _, line := range batch {
		n += len(line)
	}
	body := make([]byte, 0, n)
	body = append(body, '[')
	for i, line := range batch {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, line...)
	}
	body = append(body, ']')
	// One key for every attempt of this batch: a retry after a lost answer is not stored twice.
	s.batches++
	key := s.prefix + "-" + strconv.FormatUint(s.batches, 10)
	wait := s.opts.MinBackoff
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		err := s.send(ctx, batchRequest{key: key, body: body})
		var rej *errRejected
		switch {
		case err == nil:
			s.shipped.Add(float64(len(batch)))
			s.unreachable.Store(false)
			if s.failing {
				s.failing = false
				s.opts.Stderr.Log("level", "info", "msg", "log service reachable again; shipping the queued entries", "queued", len(s.queue))
			}
			s.dropWarned.Store(false)
			return true
		case errors.As(err, &rej):
			s.dropped.With("reason", "rejected").Add(float64(len(batch)))
			s.opts.Stderr.Log("level", "error", "msg", "log service refused a batch; dropped it", "entries", len(batch), "err", err)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		s.failures.Add(1)
		s.unreachable.Store(true)
		if !s.failing {
			s.failing = true
			s.opts.Stderr.Log("level", "warn", "msg", "cannot ship logs; queueing and retrying with backoff", "err", err)
		}
		// Jitter spreads the retries of many services after a shared outage.
		timer.Reset(wait/2 + rand.N(wait/2+1))
		select {
		case <-timer.C:
		case <-s.kick: // a Flush is waiting: try now
		case <-ctx.Done():
			return false
		}
		wait = min(wait*2, s.opts.MaxBackoff)
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

func (s *Shipper) settle(n int) {
	s.settled.Add(uint64(n))
	s.mu.Lock()
	close(s.progress)
	s.progress = make(chan struct{})
	s.mu.Unlock()
}

// Flush waits until every entry logged before the call has been shipped (or refused by the log
// service), or ctx ends; queued entries are sent at once rather than after FlushInterval.
func (s *Shipper) Flush(ctx context.Context) error {
	target := s.enqueued.Load()
	if s.settled.Load() >= target {
		return nil
	}
	failuresBefore := s.failures.Load()
	s.urgent.Add(1)
	defer s.urgent.Add(-1)
	select {
	case s.kick <- struct{}{}:
	default:
	}
	for {
		s.mu.Lock()
		progress := s.progress
		s.mu.Unlock()
		settled := s.settled.Load()
		if settled >= target {
			return nil
		}
		if s.unreachable.Load() && attempted(s, failuresBefore) {
			// Nobody is there to take them: report now rather than hold a shutdown up.
			return fmt.Errorf("log shipper: %d entries not shipped: no log service instance is reachable", target-settled)
		}
		select {
		case <-progress:
		case <-time.After(flushRecheck):
		case <-ctx.Done():
			return fmt.Errorf("log shipper: %d entries not shipped: %w", target-settled, ctx.Err())
		case <-s.done:
			return fmt.Errorf("log shipper: stopped with %d entries not shipped", target-settled)
		}
	}
}

// flushRecheck is how often a waiting Flush looks whether the log service has become unreachable.
const flushRecheck = 20 * time.Millisecond

// attempted reports whether the Shipper has tried to deliver since failures read before.
// A Flush gives up only after an attempt of its own has failed, so that a log service that is
// merely slow to answer still gets the entries.
func attempted(s *Shipper, before uint64) bool { return s.failures.Load() > before }

// Close stops taking entries, flushes what is queued (bounded by ctx), and stops the goroutine.
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
