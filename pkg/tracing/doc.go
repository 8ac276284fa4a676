// Package tracing sets up OpenTelemetry for one service: a TracerProvider configured by the
// standard OTEL_* variables (read through the getenv a service is given, never the process
// environment directly), W3C trace context and baggage propagation, and the span processor that
// keeps export off the request path: a bounded queue whose drops, and whose failed exports, are
// counted in the service's Prometheus metrics. With no OTLP endpoint set, or OTEL_SDK_DISABLED,
// the provider is a no-op and costs next to nothing. It keeps no global state: it never calls
// otel.SetTracerProvider, so two services in one process keep their traces apart.
package tracing
