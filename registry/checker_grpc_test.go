package registry

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/stats"

	"github.com/gradebook/gradebook/internal/testkit"
)

// TestGRPCCheck registers services with GRPC checks, as Consul accepts them ("host:port" for the
// server as a whole, "host:port/service" for one service): SERVING is passing; NOT_SERVING, an
// unknown service and a port nobody answers on are critical.
func TestGRPCCheck(t *testing.T) {
	hub := startHub(t)
	c := consulClient(t, hub.URL(), "")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := health.NewServer()
	hs.SetServingStatus("up.v1.Up", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("down.v1.Down", healthpb.HealthCheckResponse_NOT_SERVING)
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(ln)
	}()
	defer func() {
		srv.Stop()
		<-served
	}()
	addr := ln.Addr().String()
	dead := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}()

	tests := []struct{ id, target, want string }{
		{"whole-server", addr, api.HealthPassing},
		{"one-service", addr + "/up.v1.Up", api.HealthPassing},
		{"not-serving", addr + "/down.v1.Down", api.HealthCritical},
		{"unknown-service", addr + "/nobody.v1.Nobody", api.HealthCritical},
		{"nothing-listens", dead, api.HealthCritical},
	}
	for _, tc := range tests {
		reg := &api.AgentServiceRegistration{ID: tc.id, Name: "grpc-" + tc.id, Address: "127.0.0.1", Port: 1,
			Check: &api.AgentServiceCheck{GRPC: tc.target, GRPCUseTLS: false, Interval: "100ms", Timeout: "1s"}}
		if err := c.Agent().ServiceRegister(reg); err != nil {
			t.Fatalf("register %s: %v", tc.id, err)
		}
	}
	for _, tc := range tests {
		testkit.Eventually(t, 5*time.Second, tc.id+" "+tc.want, func() bool { return checkStatus(t, c, "service:"+tc.id) == tc.want })
	}
	// A server that stops serving turns its check critical.
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	testkit.Eventually(t, 5*time.Second, "whole-server critical", func() bool { return checkStatus(t, c, "service:whole-server") == api.HealthCritical })

	if err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{ID: "bad", Name: "bad",
		Check: &api.AgentServiceCheck{GRPC: "no port here", Interval: "1s"}}); err == nil {
		t.Error("a GRPC check without host:port was accepted")
	}
}

// connCounter counts a gRPC server's connections and health RPCs.
type connCounter struct {
	opened, closed, rpcs atomic.Int64
}

func (c *connCounter) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (c *connCounter) HandleRPC(_ context.Context, s stats.RPCStats) {
	if _, ok := s.(*stats.End); ok {
		c.rpcs.Add(1)
	}
}
func (c *connCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (c *connCounter) HandleConn(_ context.Context, s stats.ConnStats) {
	switch s.(type) {
	case *stats.ConnBegin:
		c.opened.Add(1)
	case *stats.ConnEnd:
		c.closed.Add(1)
	}
}

// serveHealth serves grpc.health.v1 on addr ("127.0.0.1:0" for any port) until the returned
// stop is called.
func serveHealth(t *testing.T, addr string, counter *connCounter) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.StatsHandler(counter))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(ln)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			srv.Stop()
			<-served
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// TestGRPCCheckKeepsOneConnection runs a GRPC check many times and finds one connection to the
// target, closed when the service leaves; and a target that restarts is seen passing again.
func TestGRPCCheckKeepsOneConnection(t *testing.T) {
	hub := startHub(t)
	c := consulClient(t, hub.URL(), "")
	var counter connCounter
	addr, stop := serveHealth(t, "127.0.0.1:0", &counter)

	reg := &api.AgentServiceRegistration{ID: "steady", Name: "steady", Address: "127.0.0.1", Port: 1,
		Check: &api.AgentServiceCheck{GRPC: addr, Interval: "100ms", Timeout: "1s"}}
	if err := c.Agent().ServiceRegister(reg); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "ten probes", func() bool { return counter.rpcs.Load() >= 10 })
	if opened := counter.opened.Load(); opened != 1 {
		t.Errorf("%d connections for %d probes, want 1", opened, counter.rpcs.Load())
	}
	if got := checkStatus(t, c, "service:steady"); got != api.HealthPassing {
		t.Errorf("status %q, want passing", got)
	}

	// The target goes away and comes back on the same address: the kept connection reconnects.
	stop()
	testkit.Eventually(t, 10*time.Second, "critical while the target is down", func() bool { return checkStatus(t, c, "service:steady") == api.HealthCritical })
	var again connCounter
	serveHealth(t, addr, &again)
	testkit.Eventually(t, 10*time.Second, "passing once the target is back", func() bool { return checkStatus(t, c, "service:steady") == api.HealthPassing })

	// Deregistering ends the runner, which closes its connection.
	if err := c.Agent().ServiceDeregister("steady"); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the connection closed", func() bool { return again.opened.Load() >= 1 && again.closed.Load() == again.opened.Load() })
	if opened := again.opened.Load(); opened != 1 {
		t.Errorf("%d connections after the target came back, want 1", opened)
	}
}
