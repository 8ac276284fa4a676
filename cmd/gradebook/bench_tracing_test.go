package main

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/jaegertest"
)

// BenchmarkGatewayTracing measures what tracing costs the whole system: the real launcher, each
// service its own process, and a real Jaeger from tools/jaeger, under concurrent GET
// /api/v1/students/1 through the portal's gateway (portal and grading: two server spans, a client
// span, an endpoint span and a store span per sampled request). Jaeger runs in every case, so
// that each pays for the same processes:
//
//	off   OTEL_SDK_DISABLED=true: the no-op provider
//	10%   parent-based, 10 % of new traces sampled, exported to Jaeger over OTLP/HTTP
//	100%  every request traced and exported
//
// Each case starts its own system once and reports req/s, and the spans the portal counts as
// dropped (export never blocks a request; a span that does not fit the queue is dropped). Run:
//
//	go test -run '^$' -bench BenchmarkGatewayTracing -benchtime 20000x ./cmd/gradebook
func BenchmarkGatewayTracing(b *testing.B) {
	bin := buildGradebook(b)
	jaegerBin := jaegertest.Binary(b)
	cases := []struct {
		name string
		env  []string
	}{
		{"off", []string{"OTEL_SDK_DISABLED=true"}},
		{"sampled=10%", []string{"OTEL_TRACES_SAMPLER=parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG=0.1"}},
		{"sampled=100%", []string{"OTEL_TRACES_SAMPLER=parentbased_always_on"}},
	}
	for _, c := range cases {
		// Started here rather than in the case, whose function runs more than once (b.N=1 first)
		// and whose cleanups run after each; stopped before the next case starts its own.
		s := startSystemWithEnv(b, bin, c.env, "-tracing", "-jaeger-bin", jaegerBin)
		b.Run(c.name, func(b *testing.B) {
			url := s.portal() + "/api/v1/students/1"
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			get := func() error {
				resp, err := client.Get(url)
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return &statusError{resp.StatusCode}
				}
				return nil
			}
			for range 200 { // warm the connections, the caches and the breakers
				if err := get(); err != nil {
					b.Fatal(err)
				}
			}
			dropped := droppedSpans(b, s.portal())
			b.SetParallelism(4)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := get(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
			b.ReportMetric(droppedSpans(b, s.portal())-dropped, "dropped-spans")
		})
		s.stop()
	}
}

type statusError struct{ status int }

func (e *statusError) Error() string { return http.StatusText(e.status) }
