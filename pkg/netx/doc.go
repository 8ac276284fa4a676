// Package netx bounds what a listener lets in: LimitListener keeps the number of open
// connections under a ceiling, refusing the excess at once rather than queueing it. It never
// reads from or writes to the connections it hands out, and knows nothing of HTTP or gRPC.
package netx
