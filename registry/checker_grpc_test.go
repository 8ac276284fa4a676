package registry

import (
	"net"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
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
		eventually(t, 5*time.Second, tc.id+" "+tc.want, func() bool { return checkStatus(t, c, "service:"+tc.id) == tc.want })
	}
	// A server that stops serving turns its check critical.
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	eventually(t, 5*time.Second, "whole-server critical", func() bool { return checkStatus(t, c, "service:whole-server") == api.HealthCritical })

	if err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{ID: "bad", Name: "bad",
		Check: &api.AgentServiceCheck{GRPC: "no port here", Interval: "1s"}}); err == nil {
		t.Error("a GRPC check without host:port was accepted")
	}
}
