// Package service is the lifecycle every gradebook service shares: bind the listener (holding at
// most -max-conns connections), then register; serve /health and /metrics beside the service's
// routes behind the common middleware, reading each request within -read-timeout;
// ship the service's logs to the log service; and on shutdown deregister, drain in-flight
// requests and flush the logs. Two services differ, and say so with an Option to New: the log
// service does not ship to itself (WithoutLogShipping), and the registry hub is its own registry
// (WithSelfRegistry).
//
// The common middleware is where every service refuses what a browser on another site could
// send (cross-origin writes, writes not declared JSON, and, where a service names its hosts,
// requests for any other host), so that no route can be left out; a service only declares its
// exceptions.
//
// It holds no business logic and never reads stdin. Only Main, which is the whole of a service's
// main function, exits the process (with status 1 after an error); New, Runtime and everything
// else here never call os.Exit, so that tests can run services in-process.
package service
