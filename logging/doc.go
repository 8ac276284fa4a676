// Package logging is gradebook's central log: the log service, which appends the entries every
// service ships to a JSON-lines file and answers recent ones from a bounded in-memory window, and
// the Shipper, the go-kit logger through which each service ships its entries there. A Shipper
// must never block its caller on the network, nor log its own failures into itself.
//
// Unlike grading, the log service has no endpoint layer: it has one transport, HTTP, its only
// callers are Shippers and people, and nothing load-balances or retries its methods one by one.
package logging
