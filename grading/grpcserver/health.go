package grpcserver

import (
	"context"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/gradebook/gradebook/grading/pb"
)

// Health is the grpc.health.v1 service of a grading gRPC server, which Consul's and the
// hub's GRPC checks call: SERVING while ready answers nil, NOT_SERVING when it fails and from
// Shutdown on. It answers the server as a whole ("") and the Grading service by name; Watch and
// List report the lifecycle (SERVING until Shutdown) without running ready.
type Health struct {
	*health.Server
	ready func(context.Context) error
}

// NewHealth returns the health service; ready is called on every Check.
func NewHealth(ready func(context.Context) error) *Health {
	h := &Health{Server: health.NewServer(), ready: ready}
	h.SetServingStatus(pb.Grading_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	return h
}

// Check implements healthpb.HealthServer.
func (h *Health) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	resp, err := h.Server.Check(ctx, req)
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING || h.ready == nil {
		return resp, err
	}
	if h.ready(ctx) != nil {
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING}, nil
	}
	return resp, nil
}
