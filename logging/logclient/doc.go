// Package logclient is the client side of gradebook's central log, the part every service links:
// the Shipper, a go-kit logger that queues a service's entries and ships them in batches to the
// log service; the Reader, which reads recent entries back (the portal's /status page); and the
// wire format both sides share (Entry, its one-line JSON encoding, and the limits the log service
// enforces). The log service (package logging) imports it for that format, never the reverse.
//
// It must never import the log server, never block a caller of Log on the network, and never log
// a Shipper's own troubles into that Shipper: they go to a logger that writes to stderr alone.
package logclient
