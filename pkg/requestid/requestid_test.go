package requestid

import (
	"bytes"
	"context"
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
