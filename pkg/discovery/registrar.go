package discovery

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/go-kit/kit/sd"
	sdconsul "github.com/go-kit/kit/sd/consul"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/hashicorp/consul/api"
)

// Registrar is a go-kit sd.Registrar built on sd/consul's Client. Unlike sd/consul's own
// Registrar it never gives up: it retries registration with backoff while the registry is
// unreachable, and afterwards checks every AntiEntropy that the registry still knows the service,
// registering again when it answers 404 (a restarted hub or Consul dev agent forgets everything).
// Those background calls go through consul/api with a context, so that Deregister can cut them
// short; Deregister itself goes through sd/consul's Client.
type Registrar struct {
	client      sdconsul.Client
	agent       *api.Agent
	reg         *api.AgentServiceRegistration
	logger      log.Logger
	antiEntropy time.Duration

	mu         sync.Mutex
	cancel     context.CancelFunc
	done       chan struct{}
	registered chan struct{}
	once       sync.Once
}

var _ sd.Registrar = (*Registrar)(nil)

// AntiEntropy is how often a Registrar checks that the registry still holds its service.
const AntiEntropy = 2 * time.Second

// NewRegistrar returns a Registrar for reg. Nothing happens until Register.
func NewRegistrar(c *api.Client, reg *api.AgentServiceRegistration, logger log.Logger) *Registrar {
	return &Registrar{
		client:      sdconsul.NewClient(c),
		agent:       c.Agent(),
		reg:         reg,
		logger:      log.With(logger, "component", "registrar", "id", reg.ID),
		antiEntropy: AntiEntropy,
		registered:  make(chan struct{}),
	}
}

// Register starts registering in the background and returns at once; it implements sd.Registrar.
func (r *Registrar) Register() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go r.loop(ctx, r.done)
}

// Registered is closed once the first registration has succeeded.
func (r *Registrar) Registered() <-chan struct{} { return r.registered }

// Deregister stops the background loop and removes the service from the registry, trying for a
// few seconds at most; it implements sd.Registrar.
func (r *Registrar) Deregister() {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.cancel = nil
	r.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	deadline := time.Now().Add(3 * time.Second)
	for wait := 50 * time.Millisecond; ; wait *= 2 {
		err := r.client.Deregister(r.reg)
		if err == nil || isNotFound(err) {
			level.Info(r.logger).Log("msg", "deregistered")
			return
		}
		if time.Now().Add(wait).After(deadline) {
			level.Warn(r.logger).Log("msg", "could not deregister; the registry's health check will retire this instance", "err", err)
			return
		}
		time.Sleep(wait)
	}
}

func (r *Registrar) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	backoff := newBackoff(100*time.Millisecond, 5*time.Second)
	// The loop's calls carry ctx, so that Deregister, which cancels it, never waits out a call
	// to a registry that does not answer.
	register := func() error {
		return r.agent.ServiceRegisterOpts(r.reg, api.ServiceRegisterOpts{}.WithContext(ctx))
	}
	for {
		err := register()
		if err == nil {
			level.Info(r.logger).Log("msg", "registered", "name", r.reg.Name, "address", r.reg.Address, "port", r.reg.Port)
			r.once.Do(func() { close(r.registered) })
			break
		}
		if ctx.Err() != nil {
			return
		}
		d := backoff.next()
		level.Warn(r.logger).Log("msg", "registry unreachable; will retry", "err", err, "retry_in", d)
		if !sleep(ctx, d) {
			return
		}
	}
	t := time.NewTicker(r.antiEntropy)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, _, err := r.agent.Service(r.reg.ID, (&api.QueryOptions{}).WithContext(ctx))
		switch {
		case err == nil:
		case isNotFound(err):
			level.Warn(r.logger).Log("msg", "the registry has forgotten this service; registering again")
			if err := register(); err != nil {
				level.Warn(r.logger).Log("msg", "re-registration failed; will retry", "err", err)
			} else {
				level.Info(r.logger).Log("msg", "registered again")
			}
		case ctx.Err() != nil:
			return
		default:
			level.Debug(r.logger).Log("msg", "registry unreachable", "err", err)
		}
	}
}

func isNotFound(err error) bool {
	var se api.StatusError
	return errors.As(err, &se) && se.Code == http.StatusNotFound
}

type backoff struct{ start, cur, max time.Duration }

func newBackoff(start, max time.Duration) *backoff {
	b := &backoff{start: start, max: max}
	b.reset()
	return b
}

// reset makes the next wait the first again.
func (b *backoff) reset() { b.cur = b.start / 2 }

func (b *backoff) next() time.Duration {
	b.cur *= 2
	if b.cur > b.max {
		b.cur = b.max
	}
	return b.cur
}

// sleep waits d or until ctx ends, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
