// Package jaegertest starts a private Jaeger (the all-in-one pinned in tools/jaeger, with
// in-memory storage) on free ports of 127.0.0.1 for a test, and reads traces back through its
// query API. Without CI a Jaeger that cannot be built or started skips the test loudly; under
// CI=true it fails it. It is imported only by tests; it must never be imported by production code.
package jaegertest
