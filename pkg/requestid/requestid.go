// Package requestid carries a request's ID through a context, so that every log line and every
// downstream call of one request can be told apart, whatever transport brought it in. The
// transports (pkg/httpx, pkg/grpcx) read and write it on the wire; domain code only reads it for
// its logs. It must never import a transport.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

type ctxKey struct{}

// FromContext returns the request ID ctx carries, or "".
func FromContext(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// NewContext returns a context that carries id.
func NewContext(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// New returns a fresh random request ID.
func New() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Valid reports whether a caller's request ID can be kept as it is: present, at most 128 bytes,
// and on one line (it goes into log lines and headers).
func Valid(id string) bool {
	return id != "" && len(id) <= 128 && !strings.ContainsAny(id, "\r\n")
}

// LogFields are the key-value pairs that tie a log line to its request: request_id, and, when
// ctx carries a trace, trace_id and span_id, so that a line can be followed to its trace.
func LogFields(ctx context.Context) []any {
	return AppendLogFields(make([]any, 0, 6), ctx)
}

// AppendLogFields appends LogFields(ctx) to kv, for a caller that builds a whole entry's
// key-value pairs in one slice.
func AppendLogFields(kv []any, ctx context.Context) []any {
	kv = append(kv, "request_id", FromContext(ctx))
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		// The IDs themselves, not their hex: a line the level filter drops is never formatted.
		kv = append(kv, "trace_id", sc.TraceID(), "span_id", sc.SpanID())
	}
	return kv
}
