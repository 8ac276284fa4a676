// Package registry is gradebook's hub: a stand-in for a Consul agent that speaks the subset of
// Consul's HTTP API the unmodified consul/api client and go-kit sd/consul use, runs the health
// checks of every registered service itself, keeps its catalog on disk, and still serves the
// course's original POST/DELETE /services protocol with its patches and heartbeats. It must never
// call itself over HTTP, never run two checks one after the other, and never lose an
// acknowledged registration to a crash.
//
// Two ways to start it:
//
//   - Run(ctx, args, getenv, stderr) is the command line (cmd/registryservice). It logs
//     "msg=serving listen=<addr>" once the listener is bound, so -listen 127.0.0.1:0 works.
//   - New(Config{...}, stderr) returns a *Hub whose Addr and URL are known before Serve(ctx)
//     is called; Serve returns when ctx ends and every goroutine the hub started has stopped.
//     NewConfig(args, getenv) parses the same flags Run does into a Config.
//
// Its transport is HTTP only, and its wire format is Consul's, encoded with consul/api's own
// structs (transport_http.go); the course protocol lives in course.go. There is no endpoint layer:
// the hub is what other services' sd clients talk to, not a service they load-balance.
package registry
