package portal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/go-kit/kit/circuitbreaker"
	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/sd"
	"github.com/go-kit/kit/sd/lb"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/sony/gobreaker"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/pkg/httpx"
)

// Balancing tunes how the portal reaches a dependency's instances. The zero value is not
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
}

// DefaultBalancing suits a few instances on one network: a failed instance is stepped over at
// once and left alone for a few seconds, and a call never takes longer than a person will wait.
func DefaultBalancing() Balancing {
	return Balancing{Timeout: 8 * time.Second, Attempts: 3, TripAfter: 3, Cooldown: 5 * time.Second}
}

// NewHTTPClient returns the one client the portal uses for every instance of every dependency.
// Its idle pool is large enough that a busy portal keeps reusing connections instead of dialling
// a new one per request, which is what starved the course's original portal.
func NewHTTPClient() *http.Client {
	transport := &http.Transport{
		Proxy:                 nil, // dependencies are always dialled directly
		DialContext:           (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 5 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	// No Client.Timeout: every call already carries the deadline of its Balancing.Timeout, and a
	// second deadline per request would only cost a timer.
	return &http.Client{Transport: transport}
}

// UnavailableError is what a call answers when no instance of a dependency could serve it: none
// is known, every one failed, or the time ran out. It is an httpx.ErrUnavailable, so it maps to
// 503; the cause is kept for the log.
type UnavailableError struct {
	Service string
	Cause   error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("the %s service is unavailable: %v", e.Service, e.Cause)
}

// Unwrap makes errors.Is see both httpx.ErrUnavailable and the cause.
func (e *UnavailableError) Unwrap() []error { return []error{httpx.ErrUnavailable, e.Cause} }

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

// NewGradingEndpoints builds grading.Endpoints whose every method is load-balanced over the
// instances instancer reports: for each method an sd Endpointer whose factory gives every
// instance its own client endpoint behind its own circuit breaker, then round robin, then a
// retry that moves to the next instance only after a transport failure and only when the call is
// safe to repeat (reads, and grade posts that carry an Idempotency-Key). Business errors such as
// a 404 come back inside the response (endpoint.Failer): they are answered at once, never
// retried, and never trip a breaker.
func NewGradingEndpoints(instancer sd.Instancer, client *http.Client, b Balancing, service string, logger log.Logger) (grading.Endpoints, *Subscriptions) {
	shared := newFanout(instancer)
	subs := &Subscriptions{}
	logger = log.With(logger, "dependency", service)
	build := func(method string, pick func(grading.Endpoints) endpoint.Endpoint) (retrying, once endpoint.Endpoint) {
		factory := func(instance string) (endpoint.Endpoint, io.Closer, error) {
			eps, err := grading.MakeHTTPClientEndpoints(instance, client)
			if err != nil {
				return nil, nil, err
			}
			return newBreaker(service+" "+method+" "+instance, b, logger)(pick(eps)), nil, nil
		}
		endpointer := sd.NewEndpointer(shared, factory, logger)
		subs.closers = append(subs.closers, endpointer.Close)
		balancer := lb.NewRoundRobin(endpointer)
		retrying = unavailable(service, lb.RetryWithCallback(b.Timeout, balancer, retryTransportFailures(b.Attempts)))
		once = unavailable(service, lb.RetryWithCallback(b.Timeout, balancer, noRetry))
		return retrying, once
	}
	list, _ := build("ListStudents", func(e grading.Endpoints) endpoint.Endpoint { return e.ListStudentsEndpoint })
	get, _ := build("GetStudent", func(e grading.Endpoints) endpoint.Endpoint { return e.GetStudentEndpoint })
	_, addStudent := build("AddStudent", func(e grading.Endpoints) endpoint.Endpoint { return e.AddStudentEndpoint })
	keyed, unkeyed := build("AddGrade", func(e grading.Endpoints) endpoint.Endpoint { return e.AddGradeEndpoint })
	subs.closers = append(subs.closers, shared.Stop)
	return grading.Endpoints{
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

// newBreaker gives one instance's endpoint its own circuit breaker. Only transport failures
// reach it as errors; a caller that went away is not the instance's fault.
func newBreaker(name string, b Balancing, logger log.Logger) endpoint.Middleware {
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
