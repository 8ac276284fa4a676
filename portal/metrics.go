package portal

import (
	"sync"

	"github.com/go-kit/kit/sd"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gradebook/gradebook/grading/gradingclient"
	"github.com/gradebook/gradebook/pkg/telemetry"
)

// The metrics of the portal's dependencies, each series labelled with the dependency's
// registered name. A dependency's instances are labelled peer ("host:port", as the registry
// lists it), not instance: Prometheus gives every scraped series the portal's own address as
// instance.
var (
	instancesDesc = prometheus.NewDesc(prometheus.BuildFQName(telemetry.Namespace, "dependency", "instances"),
		"Instances of a dependency the portal currently uses: those passing their health checks in the registry (of one store, for grading), reached over transport.",
		[]string{"dependency", "transport"}, nil)
	breakerDesc = prometheus.NewDesc(prometheus.BuildFQName(telemetry.Namespace, "circuit_breaker", "state"),
		"State of the portal's circuit breaker for one instance (peer) of a dependency and one method: 0 closed, 1 half-open, 2 open.",
		[]string{"dependency", "peer", "method"}, nil)
	transitionsDesc = prometheus.NewDesc(prometheus.BuildFQName(telemetry.Namespace, "circuit_breaker", "transitions_total"),
		"Changes of state of the portal's circuit breaker for one instance (peer) of a dependency and one method, by the state changed to.",
		[]string{"dependency", "peer", "method", "to"}, nil)
)

// gradingMethods are the methods gradingclient.NewBalanced gives a breaker each, as
// OnStateChange names them: each instance's breakers are shown closed from the moment it is used.
var gradingMethods = []string{"ListStudents", "GetStudent", "AddStudent", "AddGrade"}

// dependencyWatch follows one dependency's Instancer: how many instances it publishes and, when
// the dependency is called through breakers, each breaker's state. The series of an instance are
// deleted as soon as the Instancer stops publishing it, so that an instance that was stopped
// while its breaker was open does not stay "open" forever. Its zero value is not usable; see
// watchDependency.
type dependencyWatch struct {
	name, transport string
	methods         []string // the breakers each instance has; none for a dependency without

	mu          sync.Mutex
	answered    bool // the Instancer has published instances at least once
	present     map[string]bool
	states      map[breakerKey]gradingclient.BreakerState
	transitions map[transitionKey]uint64

	events chan sd.Event
	done   chan struct{}
	exited chan struct{}
	stop   func()
}

type breakerKey struct{ peer, method string }

// breakerStates are the states a breaker's transitions are counted by.
var breakerStates = []gradingclient.BreakerState{gradingclient.BreakerClosed, gradingclient.BreakerHalfOpen, gradingclient.BreakerOpen}

type transitionKey struct {
	breakerKey
	to gradingclient.BreakerState
}

// watchDependency subscribes to instancer, until Close. methods are the breakers each instance
// has, which OnStateChange reports on.
func watchDependency(name, transport string, instancer sd.Instancer, methods []string) *dependencyWatch {
	w := &dependencyWatch{
		name: name, transport: transport, methods: methods,
		present:     map[string]bool{},
		states:      map[breakerKey]gradingclient.BreakerState{},
		transitions: map[transitionKey]uint64{},
		events:      make(chan sd.Event),
		done:        make(chan struct{}),
		exited:      make(chan struct{}),
	}
	// The Instancer sends the current state while registering: the loop must be reading.
	go w.loop()
	instancer.Register(w.events)
	w.stop = func() { instancer.Deregister(w.events) }
	return w
}

func (w *dependencyWatch) loop() {
	defer close(w.exited)
	for {
		select {
		case ev := <-w.events:
			w.update(ev)
		case <-w.done:
			return
		}
	}
}

// update takes the instances the Instancer now publishes. An error leaves the last ones in place,
// as the Endpointers keep theirs.
func (w *dependencyWatch) update(ev sd.Event) {
	if ev.Err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.answered = true
	now := make(map[string]bool, len(ev.Instances))
	for _, in := range ev.Instances {
		now[in] = true
		if !w.present[in] {
			// A new instance (or one back after leaving) gets new breakers, closed, and its
			// transitions are counted from 0: a counter that appears at 1 is an increase that
			// increase() and rate() never see.
			for _, m := range w.methods {
				k := breakerKey{in, m}
				w.states[k] = gradingclient.BreakerClosed
				for _, to := range breakerStates {
					w.transitions[transitionKey{k, to}] = 0
				}
			}
		}
	}
	for in := range w.present {
		if !now[in] {
			w.forgetLocked(in)
		}
	}
	w.present = now
}

func (w *dependencyWatch) forgetLocked(peer string) {
	for k := range w.states {
		if k.peer == peer {
			delete(w.states, k)
		}
	}
	for k := range w.transitions {
		if k.peer == peer {
			delete(w.transitions, k)
		}
	}
}

// OnStateChange is a gradingclient.Balancing.OnStateChange. A change reported for an instance the
// Instancer no longer publishes (a call still under way when it left) is not shown: its breaker
// is gone with it.
func (w *dependencyWatch) OnStateChange(instance, method string, _, to gradingclient.BreakerState) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.present[instance] {
		return
	}
	k := breakerKey{instance, method}
	w.states[k] = to
	w.transitions[transitionKey{k, to}]++
}

// Close ends the subscription.
func (w *dependencyWatch) Close() {
	w.stop() // first, while the loop still reads: the Instancer may be sending
	close(w.done)
	<-w.exited
}

// dependencies are the watches of the portal's dependencies, collected together: their series
// share names.
type dependencies []*dependencyWatch

// Describe implements prometheus.Collector.
func (ds dependencies) Describe(ch chan<- *prometheus.Desc) {
	ch <- instancesDesc
	ch <- breakerDesc
	ch <- transitionsDesc
}

// Collect implements prometheus.Collector.
func (ds dependencies) Collect(ch chan<- prometheus.Metric) {
	for _, w := range ds {
		w.collect(ch)
	}
}

// collect sends w's series. The instance count is exported once the Instancer has answered:
// before, nothing is known, which is not the same as none.
func (w *dependencyWatch) collect(ch chan<- prometheus.Metric) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.answered {
		ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(len(w.present)), w.name, w.transport)
	}
	for k, st := range w.states {
		ch <- prometheus.MustNewConstMetric(breakerDesc, prometheus.GaugeValue, float64(st), w.name, k.peer, k.method)
	}
	for k, n := range w.transitions {
		ch <- prometheus.MustNewConstMetric(transitionsDesc, prometheus.CounterValue, float64(n), w.name, k.peer, k.method, k.to.String())
	}
}
