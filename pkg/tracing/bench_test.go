package tracing_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gradebook/gradebook/pkg/tracing"
)

// BenchmarkRequestPath measures what tracing adds to one request through a service that calls
// another: the server span's handler, a client call through Transport and, as the callee would,
// two spans of its own (a go-kit endpoint's, and a store operation's with the attributes grading's
// store decorator gives it), with the callee's reply
// given at once so that only the instrumentation is measured. The cases are the no-op provider
// (off), a request whose new trace is not sampled (unsampled: nine in ten at 10 % sampling) and
// one that is (sampled), exporting to an in-memory exporter; and one that is sampled and exported
// as a service exports it, over OTLP/HTTP (sampled-otlp), to a collector on loopback that reads
// and discards what it gets, so that the exporter's encoding and sending are counted too.
//
//	go test -run '^$' -bench BenchmarkRequestPath -benchmem ./pkg/tracing
func BenchmarkRequestPath(b *testing.B) {
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer collector.Close()
	for _, c := range []struct {
		name string
		env  map[string]string
	}{
		{"off", map[string]string{"OTEL_SDK_DISABLED": "true"}},
		{"unsampled", map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0"}},
		{"sampled", map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_always_on"}},
		{"sampled-otlp", map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_always_on", "OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL}},
	} {
		b.Run(c.name, func(b *testing.B) {
			exp := tracetest.NewInMemoryExporter()
			cfg := tracing.Config{Service: "bench", Getenv: func(k string) string { return c.env[k] }, Exporter: exp}
			if c.env["OTEL_EXPORTER_OTLP_ENDPOINT"] != "" {
				cfg.Exporter = nil
			}
			tr, err := tracing.New(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
			client := &http.Client{Transport: tr.Transport(answerAtOnce{})}
			endpointOp := tracing.NewOperation("grading.GetStudent")
			storeOp := tracing.NewOperation("store.GetStudent", attribute.String("db.system", "bbolt"), attribute.String("db.operation", "GetStudent"))
			h := tr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, "http://127.0.0.1:1/students/1", nil)
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				resp.Body.Close()
				ctx, endpointSpan := endpointOp.Start(r.Context(), tr.Tracer())
				_, storeSpan := storeOp.Start(ctx, tr.Tracer())
				tracing.End(storeSpan, nil)
				tracing.End(endpointSpan, nil)
				w.WriteHeader(http.StatusOK)
			}))
			req := httptest.NewRequest(http.MethodGet, "/api/v1/students/1", nil)
			w := discardWriter{http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
				exp.Reset()
			}
		})
	}
}

// answerAtOnce is the callee, answering 200 with an empty body without a network round trip.
type answerAtOnce struct{}

func (answerAtOnce) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
}

type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(p []byte) (int, error) { return io.Discard.Write(p) }
func (d discardWriter) WriteHeader(int)             {}
