// Package registry is gradebook's hub, a stand-in for a Consul agent. It owns the catalog of
// services and their checks, kept on disk (catalog.go, store.go); the checker, which runs every
// HTTP, TCP, gRPC and TTL check itself (checker.go); the subset of Consul's HTTP API that the
// unmodified consul/api client and go-kit sd/consul use, blocking queries included
// (transport_http.go, registration.go); the course's original POST/DELETE /services protocol with
// its patches and heartbeats (course.go); and the status page (page.go). Both protocols share the
// one catalog. The client side is not here: every service reaches a registry (this hub or a real
// Consul) through pkg/discovery, and tests start one through registrytest.
//
// It must never lose a registration it acknowledged to a crash, never run checks one after
// another, never send its own registration through its HTTP API (it goes straight into the
// catalog), and never change process-wide settings such as GOGC, which are main's.
//
// Two ways to start it:
//
//   - Run(ctx, args, getenv, stderr) is the command line (cmd/registryservice). It logs
//     "msg=serving listen=<addr>" once the listener is bound, so -listen 127.0.0.1:0 works.
//   - New(Config{...}, stderr) returns a *Hub whose Addr and URL are known before Serve(ctx)
//     is called. NewConfig(args, getenv, stderr) parses the same flags Run does into a Config.
//
// Serve owns every goroutine the hub runs, its log shipper's included, and its ctx is the hub's
// one stop signal: Serve returns once all of them have stopped. A Hub that New returns must
// therefore be served.
//
// Where it departs from Consul, it is to keep a browser from using it. Every write with a body
// must be declared application/json (the course protocol's DELETE /services, whose body is a bare
// URL, excepted), and browsers' cross-origin writes are refused, so that a web page cannot
// register a service; and an HTTP check's output is its status line without the body Consul
// shows, since a registration names any URL the hub can reach and the output is public.
//
// There is no endpoint layer, unlike the other services. The hub's API is Consul's wire
// protocol, and its clients are consul/api and go-kit sd/consul, the same code that talks to a
// real Consul: nobody calls the hub through a Go service interface or balances load over it. Its
// requests and answers are consul/api's own structs, and what matters in them is HTTP itself
// (blocking queries answered through index headers, a patch delivered before the 200), which
// endpoints would only hide.
package registry
