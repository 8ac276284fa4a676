// Package logging is gradebook's central log service: it appends the entries every service ships
// to a JSON-lines file, with one fsync per acknowledged batch, and answers recent ones from a
// window in memory bounded by entries and by bytes. Its own entries go straight into its store,
// never through a Shipper to itself. The client side (the Shipper, the Reader and the wire
// format) is logging/logclient, so that a service links this package only to run the log service.
//
// Unlike grading, the log service has no endpoint layer: it has one transport, HTTP, its only
// callers are Shippers, the portal's Reader and people, and nothing load-balances or retries its
// methods one by one. Its Store never logs (its errors are returned), since the service's own
// logger writes into it.
package logging
