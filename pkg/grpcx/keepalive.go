package grpcx

import (
	"time"

	"google.golang.org/grpc/keepalive"
)

// MaxConcurrentStreams bounds the calls one client connection may have in flight at once, which
// HTTP/2 lets a server say in its settings; a client past it waits for a call to end. grpc-go
// sets no bound of its own. A hundred is HTTP/2's recommended least, and far more than a portal
// instance's calls to one grading instance need: the connection limit (-max-conns) times this is
// what a grading instance may be asked to hold.
const MaxConcurrentStreams = 100

// StreamWorkers is how many goroutines a server keeps to run calls on. Without them grpc-go starts
// a goroutine per call, whose stack then grows by copying, twice, on its way through the
// interceptors, the endpoint and the store: about a sixth of a server's CPU under load, against
// 3-6 % with workers, which keep the stacks they grew. A call that finds every worker busy still
// gets a goroutine of its own. As many as one client connection may have calls in flight; an idle
// worker holds only its stack, which the garbage collector shrinks.
const StreamWorkers = MaxConcurrentStreams

// HandshakeTimeout bounds the time a new connection has to complete HTTP/2's opening (the
// client's preface and settings): a client that connects and says nothing is closed after it,
// instead of grpc-go's two minutes.
const HandshakeTimeout = 5 * time.Second

// Enforcement is the keepalive policy every gradebook gRPC server enforces: a client may ping at
// most every MinTime, with or without a call in flight. A client that pings more often is sent
// GOAWAY ("too_many_pings", ENHANCE_YOUR_CALM) and its connection closed, so that pings cannot be
// used to keep a server busy. ClientKeepalive stays within it.
func Enforcement() keepalive.EnforcementPolicy {
	return keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}
}

// ServerKeepalive is how every gradebook gRPC server treats idle connections: one without a call
// for MaxConnectionIdle is closed (with GOAWAY, so that the client redials when it next needs
// to), and one silent for Time is pinged and closed if the ping is not answered within Timeout,
// which frees what a vanished client held.
func ServerKeepalive() keepalive.ServerParameters {
	return keepalive.ServerParameters{MaxConnectionIdle: 5 * time.Minute, Time: time.Minute, Timeout: 20 * time.Second}
}

// ClientKeepalive is how Dial's connections ping their server: every 30 s without activity, even
// with no call in flight (three times Enforcement's MinTime, so that a ping sent early by a busy
// scheduler is still allowed), giving up on the connection if the answer takes over 10 s.
func ClientKeepalive() keepalive.ClientParameters {
	return keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}
}
