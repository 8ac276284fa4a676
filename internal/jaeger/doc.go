// Package jaeger runs the Jaeger all-in-one pinned in tools/jaeger: it builds the binary once per
// pin and Go version into the user's cache directory, writes the collector configuration that
// keeps traces in memory and listens where it is told (only there: never on Jaeger's other
// default ports), and waits until the query API and the OTLP receivers answer. Both the launcher
// ("gradebook jaeger", "gradebook up -tracing") and the tests' private Jaeger use it, so that they
// run the same program the same way. It never starts anything on its own and keeps no state.
//
// A Jaeger built from the Go module has no UI, so the configuration has it serve gradebook's own
// trace view (ui/, embedded): a page, a script and a style sheet that read Jaeger's query API and
// nothing else, and show data as text, never as markup.
package jaeger
