package service

import (
	"context"
	"maps"
	"net"
	"strconv"
	"sync"

	"github.com/go-kit/kit/sd"
	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/pkg/discovery"
)

// AddRegistration registers reg beside the service's own registration, for a second endpoint
// such as a gRPC listener, with the same lifecycle: call it once that endpoint's listener is
// bound and serving; it registers in the background, retrying until the registry answers and
// registering again whenever the registry forgets it. The returned deregister removes it; call
// it when the endpoint starts to shut down. Shutdown does it at the latest (later calls do
// nothing).
func (rt *Runtime) AddRegistration(reg *api.AgentServiceRegistration) (deregister func()) {
	r := discovery.NewRegistrar(rt.Consul, reg, rt.Logger)
	r.Register()
	var once sync.Once
	deregister = func() { once.Do(r.Deregister) }
	rt.OnClose(func(context.Context) error {
		deregister()
		return nil
	})
	return deregister
}

// GRPCRegistration is a registration of the gRPC endpoint at advertise ("host:port") under the
// service's name, with tags, checked through grpc.health.v1 (Consul and the hub both run it) as
// often as the HTTP check, and retired after a minute of failing; it carries the metadata given
// to Meta so far. Its ID is "<name>-grpc-<host>-<port>", apart from the HTTP registration's
// "<name>-<host>-<port>".
func (rt *Runtime) GRPCRegistration(advertise string, tags ...string) *api.AgentServiceRegistration {
	host, portStr, _ := net.SplitHostPort(advertise)
	port, _ := strconv.Atoi(portStr)
	return &api.AgentServiceRegistration{
		ID:      rt.Config.Name + "-grpc-" + host + "-" + portStr,
		Name:    rt.Config.Name,
		Address: host,
		Port:    port,
		Tags:    tags,
		Meta:    maps.Clone(rt.meta),
		Checks: api.AgentServiceChecks{{
			Name:                           "gRPC grpc.health.v1 Check",
			GRPC:                           advertise,
			GRPCUseTLS:                     false,
			Interval:                       rt.Config.CheckInterval.String(),
			Timeout:                        checkTimeout(rt.Config.CheckInterval).String(),
			DeregisterCriticalServiceAfter: "1m",
			FailuresBeforeCritical:         FailuresBeforeCritical,
		}},
	}
}

// WhenRegistered runs f once the service's own registration has first succeeded, on a goroutine
// the runtime owns: f's context ends when the service begins to shut down, and shutdown waits for
// f to return, so f must heed it. A registrar given to SetRegistrar that cannot say when it has
// registered (it has no Registered channel) counts as registered at once. Call it before Serve.
func (rt *Runtime) WhenRegistered(f func(ctx context.Context)) {
	rt.mu.Lock()
	rt.whenRegistered = append(rt.whenRegistered, f)
	rt.mu.Unlock()
}

// startWhenRegistered runs the WhenRegistered functions once reg has registered, and returns
// what ends them and waits for them.
func (rt *Runtime) startWhenRegistered(ctx context.Context, reg sd.Registrar) (stop func()) {
	rt.mu.Lock()
	fs := rt.whenRegistered
	rt.mu.Unlock()
	now := make(chan struct{})
	close(now)
	var registered <-chan struct{} = now
	if r, ok := reg.(interface{ Registered() <-chan struct{} }); ok {
		registered = r.Registered()
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Go(func() {
			select {
			case <-registered:
				f(ctx)
			case <-ctx.Done():
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}
}
