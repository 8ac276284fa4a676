package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// carriesPropagation must see every header the propagator reads, or a caller's trace would be
// dropped without a word.
func TestCarriesPropagationKnowsThePropagatorsHeaders(t *testing.T) {
	tr, err := New(context.Background(), Config{Service: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range tr.Propagator().Fields() {
		h := http.Header{}
		h.Set(f, "x")
		if !carriesPropagation(h) {
			t.Errorf("a request with %s is not seen to carry propagation", f)
		}
	}
	if carriesPropagation(http.Header{"X-Request-Id": {"abc"}}) {
		t.Error("a request without propagation headers is seen to carry some")
	}
}

// Under a parent-based sampler a child of an unsampled span is never sampled, so none is started:
// the caller gets the parent back, and calls downstream carry the parent's IDs. Under a sampler
// that decides for itself, every child is still started.
func TestUnsampledParentStartsNoChild(t *testing.T) {
	for _, c := range []struct {
		sampler   string
		wantChild bool
	}{
		{"parentbased_always_off", false},
		{"parentbased_traceidratio", false}, // with ratio 0: no root is sampled
		{"traceidratio", true},
	} {
		t.Run(c.sampler, func(t *testing.T) {
			env := map[string]string{"OTEL_TRACES_SAMPLER": c.sampler, "OTEL_TRACES_SAMPLER_ARG": "0"}
			if c.sampler == "parentbased_always_off" {
				delete(env, "OTEL_TRACES_SAMPLER_ARG")
			}
			tr, err := New(context.Background(), Config{Service: "test", Getenv: func(k string) string { return env[k] },
				Exporter: tracetest.NewInMemoryExporter()})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Shutdown(context.Background())
			ctx, root := tr.Tracer().Start(context.Background(), "root")
			defer root.End()
			if !root.SpanContext().IsValid() || root.SpanContext().IsSampled() {
				t.Fatalf("root: valid %v, sampled %v; want a valid, unsampled span", root.SpanContext().IsValid(), root.SpanContext().IsSampled())
			}
			childCtx, child := tr.Tracer().Start(ctx, "child")
			child.End()
			if child.IsRecording() {
				t.Error("the child of an unsampled root is recording")
			}
			if child.SpanContext().TraceID() != root.SpanContext().TraceID() {
				t.Error("the child is in another trace")
			}
			started := child.SpanContext().SpanID() != root.SpanContext().SpanID()
			if started != c.wantChild {
				t.Errorf("child started: %v, want %v", started, c.wantChild)
			}
			if !c.wantChild && childCtx != ctx {
				t.Error("no child was started, yet the context changed")
			}
		})
	}
}

// A call under an unsampled trace still carries the trace to the callee, with the trace's IDs
// and the sampled flag off, and leaves the caller's request untouched.
func TestTransportPropagatesUnsampledTrace(t *testing.T) {
	env := map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}
	tr, err := New(context.Background(), Config{Service: "test", Getenv: func(k string) string { return env[k] },
		Exporter: tracetest.NewInMemoryExporter()})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer srv.Close()
	ctx, root := tr.Tracer().Start(context.Background(), "root")
	defer root.End()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	req.Header.Set("X-Request-Id", "abc")
	resp, err := (&http.Client{Transport: tr.Transport(http.DefaultTransport)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := "00-" + root.SpanContext().TraceID().String() + "-" + root.SpanContext().SpanID().String() + "-00"
	if tp := got.Get("Traceparent"); tp != want {
		t.Errorf("traceparent %q, want %q", tp, want)
	}
	if got.Get("X-Request-Id") != "abc" {
		t.Errorf("X-Request-Id %q, want abc", got.Get("X-Request-Id"))
	}
	if _, ok := req.Header["Traceparent"]; ok || len(req.Header) != 1 {
		t.Errorf("the caller's request was changed: %v", req.Header)
	}
}
