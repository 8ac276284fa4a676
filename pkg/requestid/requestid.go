// Package requestid carries a request's ID through a context, so that every log line and every
// downstream call of one request can be told apart, whatever transport brought it in. The
// transports (pkg/httpx, pkg/grpcx) read and write it on the wire; domain code only reads it for
// its logs. It must never import a transport.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
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
		ids := newTraceIDs(sc)
		kv = append(kv, "trace_id", &ids.trace, "span_id", &ids.span)
	}
	return kv
}

// traceIDs are a log line's trace_id and span_id, formatted once in hex. The IDs themselves (a
// trace.TraceID and a trace.SpanID) take an allocation each to go into the line, and two more
// each time a logger prints the line: on stderr, and again in the entry shipped to the log
// service. These take two in all (the text of both IDs, and the pair), and a logger's String
// call costs nothing.
type traceIDs struct{ trace, span idText }

func newTraceIDs(sc trace.SpanContext) *traceIDs {
	tid, sid := sc.TraceID(), sc.SpanID()
	var b [2*len(tid) + 2*len(sid)]byte
	n := hex.Encode(b[:], tid[:])
	hex.Encode(b[n:], sid[:])
	s := string(b[:])
	return &traceIDs{idText{s[:n]}, idText{s[n:]}}
}

// idText is one ID of a traceIDs, as a logger prints it: a fmt.Stringer, as logfmt and the log
// shipper print any value, and hex in a JSON string for a JSON logger.
type idText struct{ s string }

func (t *idText) String() string { return t.s }

// MarshalJSON implements json.Marshaler.
func (t *idText) MarshalJSON() ([]byte, error) { return strconv.AppendQuote(nil, t.s), nil }
