package gradingclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-kit/kit/circuitbreaker"
	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/sd"
	"github.com/go-kit/kit/sd/lb"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/sony/gobreaker"
	"google.golang.org/grpc"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/httpx"
)

// Balancing tunes how a caller reaches grading's instances. The zero value is not
// useful; start from DefaultBalancing.
type Balancing struct {
	// Timeout bounds one call, every retry included.
	Timeout time.Duration
	// Attempts is the most instances a call that is safe to repeat will try.
	Attempts int
	// TripAfter consecutive transport failures open an instance's circuit breaker, which stays
	// open for Cooldown before one trial request is let through.
	TripAfter uint32
	Cooldown  time.Duration
	// OnStateChange, when set, is told every time one of the breakers changes state: the
	// instance ("host:port", as the Instancer lists it) and the method it guards. It is called
	// while the breaker holds its lock, so it must be quick and must not call grading. It is how
	// a caller exports the breakers' states, say as metrics; the change is logged either way.
	OnStateChange func(instance, method string, from, to BreakerState)
}

// BreakerState is the state of one instance's circuit breaker for one method, numbered as a
// gauge shows it: closed (calls go through) 0, half-open (one trial call after the cooldown) 1,
// open (calls to the instance fail at once) 2.
type BreakerState int

// The states of a circuit breaker.
const (
	BreakerClosed BreakerState = iota
	BreakerHalfOpen
	BreakerOpen
)

func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half-open"
	case BreakerOpen:
		return "open"
	}
	return fmt.Sprintf("BreakerState(%d)", int(s))
}

// breakerState maps gobreaker's states to BreakerState.
func breakerState(s gobreaker.State) BreakerState {
	switch s {
	case gobreaker.StateHalfOpen:
		return BreakerHalfOpen
	case gobreaker.StateOpen:
		return BreakerOpen
	}
	return BreakerClosed
}

// DefaultBalancing suits a few instances on one network: a failed instance is stepped over at
// once and left alone for a few seconds, and a call never takes longer than a person will wait.
func DefaultBalancing() Balancing {
	return Balancing{Timeout: 8 * time.Second, Attempts: 3, TripAfter: 3, Cooldown: 5 * time.Second}
}

// NewHTTPClient returns a client for every instance of grading. Its idle pool is large enough
// that a busy caller keeps reusing connections instead of dialling a new one per request, which
// is what starved the course's original portal.
func NewHTTPClient() *http.Client {
	transport := httpx.NewTransport(256)
	transport.MaxIdleConns = 1024
	transport.ResponseHeaderTimeout = 5 * time.Second
	// No Client.Timeout: every call already carries the deadline of its Balancing.Timeout, and a
	// second deadline per request would only cost a timer.
	return &http.Client{Transport: transport}
}

// UnavailableError is what a call answers when no instance of a dependency could serve it: none
// is known, every one failed, or the time ran out. It is an errs.ErrUnavailable, so it maps to
// 503; the cause is kept for the log.
type UnavailableError struct {
	Service string
	Cause   error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("the %s service is unavailable: %v", e.Service, e.Cause)
}

// Unwrap makes errors.Is see both errs.ErrUnavailable and the cause.
func (e *UnavailableError) Unwrap() []error { return []error{errs.ErrUnavailable, e.Cause} }

// Subscriptions are the Endpointers behind a set of load-balanced endpoints, each subscribed to
// the dependency's Instancer. Close ends them.
type Subscriptions struct {
	closers []func()
}

// Close stops the Endpointers (not the Instancer, which the caller shares and owns), then the
// fan-out that feeds them.
func (s *Subscriptions) Close() {
	for _, c := range s.closers {
		c()
	}
	s.closers = nil
}

// Connector makes the client endpoints for one grading instance ("host:port", as the
// registry lists it), and what to close once the instance has left (nil when nothing needs
// closing). It is how a transport plugs into the load-balanced endpoints.
type Connector func(instance string) (grading.Endpoints, io.Closer, error)

// HTTPConnector reaches each instance over HTTP+JSON through client, which keeps the
// connections of every instance in its own pool: nothing to close per instance.
func HTTPConnector(client *http.Client) Connector {
	return func(instance string) (grading.Endpoints, io.Closer, error) {
		eps, err := MakeHTTPClientEndpoints(instance, client)
		return eps, nil, err
	}
}

// GRPCConnector reaches each instance over gRPC: one *grpc.ClientConn per instance (insecure,
// with token, when set, sent as "authorization: Bearer <token>" on every call), shared by all
// methods and closed when the instance leaves. opts are added to every dial: a tracing
// stats handler, say.
func GRPCConnector(token string, opts ...grpc.DialOption) Connector {
	return func(instance string) (grading.Endpoints, io.Closer, error) {
		conn, err := DialGRPC(instance, token, opts...)
		if err != nil {
			return grading.Endpoints{}, nil, err
		}
		return MakeGRPCClientEndpoints(conn), conn, nil
	}
}

// NewBalanced builds grading.Endpoints whose every method is load-balanced over the
// instances instancer reports, reached through connect. One sd Endpointer holds the instances:
// its factory connects to each instance once (one connection for all its methods, closed when
// the instance leaves) and gives each of the instance's methods its own circuit breaker. Each
// method then has its own round robin over those instances, and a retry that moves to the next
// instance only after a transport failure and only when the call is safe to repeat (reads, and
// grade posts that carry an Idempotency-Key). Business errors such as a 404 come back inside the
// response (endpoint.Failer): they are answered at once, never retried, and never trip a breaker.
func NewBalanced(instancer sd.Instancer, connect Connector, b Balancing, service string, logger log.Logger) (grading.Endpoints, *Subscriptions) {
	logger = log.With(logger, "dependency", service)
	conns := &openClosers{open: map[*trackedCloser]struct{}{}}
	workers := newCallWorkers()
	factory := func(instance string) (endpoint.Endpoint, io.Closer, error) {
		eps, closer, err := connect(instance)
		if err != nil {
			return nil, nil, err
		}
		tracked, err := conns.track(closer)
		if err != nil {
			return nil, nil, err
		}
		breaker := func(method string, e endpoint.Endpoint) endpoint.Endpoint {
			var notify func(from, to gobreaker.State)
			if b.OnStateChange != nil {
				notify = func(from, to gobreaker.State) {
					b.OnStateChange(instance, method, breakerState(from), breakerState(to))
				}
			}
			return newBreaker(service+" "+method+" "+instance, b, logger, notify)(e)
		}
		// lb.Retry calls each attempt on a goroutine of its own; the call itself runs on a worker.
		return workers.wrap(dispatch(grading.Endpoints{
			ListStudentsEndpoint: breaker("ListStudents", eps.ListStudentsEndpoint),
			GetStudentEndpoint:   breaker("GetStudent", eps.GetStudentEndpoint),
			AddStudentEndpoint:   breaker("AddStudent", eps.AddStudentEndpoint),
			AddGradeEndpoint:     breaker("AddGrade", eps.AddGradeEndpoint),

			GetGradeEndpoint:      breaker("GetGrade", eps.GetGradeEndpoint),
			UpdateGradeEndpoint:   breaker("UpdateGrade", eps.UpdateGradeEndpoint),
			RemoveGradeEndpoint:   breaker("RemoveGrade", eps.RemoveGradeEndpoint),
			GradeHistoryEndpoint:  breaker("GradeHistory", eps.GradeHistoryEndpoint),
			RenameStudentEndpoint: breaker("RenameStudent", eps.RenameStudentEndpoint),
			RemoveStudentEndpoint: breaker("RemoveStudent", eps.RemoveStudentEndpoint),
		})), tracked, nil
	}
	endpointer := sd.NewEndpointer(instancer, factory, logger)
	// go-kit closes an instance's connection when the instance leaves, but not those still open
	// when the Endpointer is closed: conns does. The call workers end too.
	subs := &Subscriptions{closers: []func(){endpointer.Close, conns.closeAll, workers.close}}
	balanced := func() (retrying, once endpoint.Endpoint) {
		balancer := lb.NewRoundRobin(endpointer)
		retrying = unavailable(service, lb.RetryWithCallback(b.Timeout, balancer, retryTransportFailures(b.Attempts)))
		once = unavailable(service, lb.RetryWithCallback(b.Timeout, balancer, noRetry))
		return retrying, once
	}
	list, _ := balanced()
	get, _ := balanced()
	_, addStudent := balanced()
	keyed, unkeyed := balanced()
	changes := balancedChanges(balanced)
	return grading.Endpoints{
		GetGradeEndpoint:      changes.GetGradeEndpoint,
		UpdateGradeEndpoint:   changes.UpdateGradeEndpoint,
		RemoveGradeEndpoint:   changes.RemoveGradeEndpoint,
		GradeHistoryEndpoint:  changes.GradeHistoryEndpoint,
		RenameStudentEndpoint: changes.RenameStudentEndpoint,
		RemoveStudentEndpoint: changes.RemoveStudentEndpoint,

		ListStudentsEndpoint: list,
		GetStudentEndpoint:   get,
		// A student post carries no idempotency key, so a repeat could add the student twice.
		AddStudentEndpoint: addStudent,
		AddGradeEndpoint: func(ctx context.Context, request any) (any, error) {
			if req, ok := request.(grading.AddGradeRequest); ok && req.IdempotencyKey != "" {
				return keyed(ctx, request)
			}
			return unkeyed(ctx, request)
		},
	}, subs
}

// dispatch is one instance's endpoint for every method: it calls the method the request is for.
func dispatch(eps grading.Endpoints) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		switch request.(type) {
		case grading.ListStudentsRequest:
			return eps.ListStudentsEndpoint(ctx, request)
		case grading.GetStudentRequest:
			return eps.GetStudentEndpoint(ctx, request)
		case grading.AddStudentRequest:
			return eps.AddStudentEndpoint(ctx, request)
		case grading.AddGradeRequest:
			return eps.AddGradeEndpoint(ctx, request)
		case grading.GetGradeRequest:
			return eps.GetGradeEndpoint(ctx, request)
		case grading.UpdateGradeRequest:
			return eps.UpdateGradeEndpoint(ctx, request)
		case grading.RemoveGradeRequest:
			return eps.RemoveGradeEndpoint(ctx, request)
		case grading.GradeHistoryRequest:
			return eps.GradeHistoryEndpoint(ctx, request)
		case grading.RenameStudentRequest:
			return eps.RenameStudentEndpoint(ctx, request)
		case grading.RemoveStudentRequest:
			return eps.RemoveStudentEndpoint(ctx, request)
		}
		return nil, fmt.Errorf("grading: no method takes %T", request)
	}
}

// openClosers keeps what the instances' connections need closed until it is closed, so that
// nothing outlives the Endpointer.
type openClosers struct {
	mu     sync.Mutex
	open   map[*trackedCloser]struct{}
	closed bool
}

type trackedCloser struct {
	c     io.Closer
	owner *openClosers
	once  sync.Once
}

// Close closes the connection once, and forgets it.
func (t *trackedCloser) Close() error {
	var err error
	t.once.Do(func() {
		t.owner.mu.Lock()
		delete(t.owner.open, t)
		t.owner.mu.Unlock()
		err = t.c.Close()
	})
	return err
}

var errClosed = errors.New("the grading endpoints are closed")

func (o *openClosers) track(c io.Closer) (io.Closer, error) {
	if c == nil {
		return nil, nil
	}
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		c.Close()
		return nil, errClosed
	}
	t := &trackedCloser{c: c, owner: o}
	o.open[t] = struct{}{}
	o.mu.Unlock()
	return t, nil
}

func (o *openClosers) closeAll() {
	o.mu.Lock()
	o.closed = true
	open := make([]*trackedCloser, 0, len(o.open))
	for t := range o.open {
		open = append(open, t)
	}
	o.mu.Unlock()
	for _, t := range open {
		t.Close()
	}
}

// newBreaker gives one instance's endpoint its own circuit breaker. Only transport failures
// reach it as errors; a caller that went away is not the instance's fault. notify, when not nil,
// is told of every change of state after it is logged.
func newBreaker(name string, b Balancing, logger log.Logger, notify func(from, to gobreaker.State)) endpoint.Middleware {
	return circuitbreaker.Gobreaker(gobreaker.NewCircuitBreaker(gobreaker.Settings{
		Name:        name,
		MaxRequests: 1,
		Timeout:     b.Cooldown,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= b.TripAfter },
		IsSuccessful: func(err error) bool {
			return err == nil || errors.Is(err, context.Canceled)
		},
		OnStateChange: func(name string, from, to gobreaker.State) {
			level.Warn(logger).Log("msg", "circuit breaker changed state", "breaker", name, "from", from.String(), "to", to.String())
			if notify != nil {
				notify(from, to)
			}
		},
	}))
}

// retryTransportFailures keeps trying other instances after a transport failure, up to attempts
// calls in all. With no instance known at all there is nothing to try, so it stops at once.
func retryTransportFailures(attempts int) lb.Callback {
	return func(n int, err error) (bool, error) {
		if errors.Is(err, lb.ErrNoEndpoints) || errors.Is(err, context.Canceled) {
			return false, nil
		}
		return n < attempts, nil
	}
}

func noRetry(int, error) (bool, error) { return false, nil }

// unavailable turns a failure of the whole balanced call into an UnavailableError, so that every
// caller answers it as 503. Responses, business errors included, pass through untouched.
func unavailable(service string, next endpoint.Endpoint) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		resp, err := next(ctx, request)
		if err != nil {
			var re lb.RetryError
			if errors.As(err, &re) && re.Final != nil {
				err = re.Final
			}
			return nil, &UnavailableError{Service: service, Cause: err}
		}
		return resp, nil
	}
}
