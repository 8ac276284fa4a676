package requestid

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"go.opentelemetry.io/otel/trace"
)

func TestContextCarriesTheID(t *testing.T) {
	if got := FromContext(context.Background()); got != "" {
		t.Errorf("an empty context carries %q", got)
	}
	if got := FromContext(NewContext(context.Background(), "req-42")); got != "req-42" {
		t.Errorf("FromContext = %q, want req-42", got)
	}
	a, b := New(), New()
	if a == b || !Valid(a) || len(a) != 24 {
		t.Errorf("New() = %q then %q; want two different valid 24-hex-digit IDs", a, b)
	}
}

func TestValid(t *testing.T) {
	for id, want := range map[string]bool{
		"abc-123":                true,
		"":                       false,
		strings.Repeat("x", 128): true,
		strings.Repeat("x", 129): false,
		"a\r\nX-Injected: 1":     false,
		"line\nbreak":            false,
	} {
		if got := Valid(id); got != want {
			t.Errorf("Valid(%q) = %v, want %v", id, got, want)
		}
	}
}

// A log line of a traced request carries the trace's IDs in hex, beside the request's ID; a line
// of an untraced one carries the request ID alone.
func TestLogFields(t *testing.T) {
	var buf bytes.Buffer
	logger := log.NewLogfmtLogger(&buf)
	ctx := NewContext(context.Background(), "r1")
	log.With(logger, LogFields(ctx)...).Log("msg", "untraced")
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx = trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	log.With(logger, LogFields(ctx)...).Log("msg", "traced")
	want := "request_id=r1 msg=untraced\n" +
		"request_id=r1 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7 msg=traced\n"
	if buf.String() != want {
		t.Errorf("got\n%swant\n%s", buf.String(), want)
	}
}

// The IDs are what a logger that prints by fmt.Stringer (logfmt, the log shipper) and a JSON
// logger see: hex, the same as trace.TraceID and trace.SpanID print.
func TestLogFieldsPrintAsHex(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	kv := LogFields(ctx)
	if len(kv) != 6 || kv[2] != "trace_id" || kv[4] != "span_id" {
		t.Fatalf("LogFields = %v, want request_id, trace_id and span_id", kv)
	}
	for i, want := range map[int]string{3: tid.String(), 5: sid.String()} {
		if s, ok := kv[i].(fmt.Stringer); !ok || s.String() != want {
			t.Errorf("%s = %#v, want a fmt.Stringer printing %s", kv[i-1], kv[i], want)
		}
		if got := fmt.Sprint(kv[i]); got != want {
			t.Errorf("fmt.Sprint(%s) = %q, want %q", kv[i-1], got, want)
		}
		j, err := json.Marshal(map[string]any{"v": kv[i]})
		if want := `{"v":"` + want + `"}`; err != nil || string(j) != want {
			t.Errorf("JSON of %s = %s, %v; want %s", kv[i-1], j, err, want)
		}
	}
}

func BenchmarkLogFields(b *testing.B) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(NewContext(context.Background(), "r1"), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	logger := log.NewLogfmtLogger(io.Discard)
	kv := make([]any, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		kv = append(AppendLogFields(kv[:0], ctx), "msg", "request")
		// Printed twice, as a line is on stderr and again in the shipped entry.
		_ = logger.Log(kv...)
		_ = fmt.Sprint(kv[3], kv[5])
	}
}
