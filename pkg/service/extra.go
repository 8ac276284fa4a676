package service

import (
	"context"
	"maps"
	"net"
	"strconv"
	"sync"

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
		}},
	}
}
