package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPlanTracing checks what -tracing adds to up's plan: Jaeger first (so that it is stopped
// last, after the services' final spans), on its own ports moved by -port-offset on -host; every
// service told where to export, and the portal where Jaeger's UI is; the services' command lines
// unchanged.
func TestPlanTracing(t *testing.T) {
	c := upConfig{data: "d", host: "127.0.0.2", portOffset: 100, gradingTransport: "http", checkInterval: time.Second,
		tracing: true, jaegerBin: "/opt/jaeger"}
	children, err := plan(c)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ch := range children {
		got = append(got, strings.Join(ch.args, " "))
	}
	want := []string{
		"jaeger -bin /opt/jaeger -host 127.0.0.2 -ui-port 16786 -query-grpc-port 16785 -otlp-grpc-port 4417 -otlp-http-port 4418 -data d/jaeger -log-level warn",
		"registry -listen 127.0.0.2:3100 -data d/registry -check-interval 1s",
		"log -listen 127.0.0.2:4100 -data d/log -check-interval 1s -registry http://127.0.0.2:3100",
		"grading -listen 127.0.0.2:6100 -data d/grading -check-interval 1s -registry http://127.0.0.2:3100 -grpc-listen 127.0.0.2:6101",
		"portal -listen 127.0.0.2:5100 -data d/portal -check-interval 1s -registry http://127.0.0.2:3100 -grading-transport http",
	}
	if !slices.Equal(got, want) {
		t.Errorf("command lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	jaeger := children[0]
	if jaeger.listen != "127.0.0.2:16786" || jaeger.health != "/api/services" || len(jaeger.regs) != 0 || len(jaeger.env) != 0 {
		t.Errorf("jaeger: polled at %s%s, registrations %v, environment %v; want 127.0.0.2:16786/api/services, none, none",
			jaeger.listen, jaeger.health, jaeger.regs, jaeger.env)
	}
	listens := jaeger.listenAddrs()
	slices.Sort(listens)
	if want := []string{"127.0.0.2:16785", "127.0.0.2:16786", "127.0.0.2:4417", "127.0.0.2:4418"}; !slices.Equal(listens, want) {
		t.Errorf("jaeger's addresses checked free before start: %v, want %v", listens, want)
	}
	if !slices.ContainsFunc(jaeger.links, func(l string) bool { return strings.HasPrefix(l, "http://127.0.0.2:16786/") }) {
		t.Errorf("up prints %q for jaeger; want its UI among them", jaeger.links)
	}

	for _, ch := range children[1:] {
		wantEnv := []envVar{
			{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.2:4418", "http://127.0.0.2:4418", false},
			{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", "http/protobuf", false},
		}
		if ch.service == "portal" {
			wantEnv = append(wantEnv, envVar{"GRADEBOOK_TRACING_UI", "http://127.0.0.2:16786", "http://127.0.0.2:16786", false})
		}
		if !slices.Equal(ch.env, wantEnv) {
			t.Errorf("%s's environment: %v, want %v", ch.name, ch.env, wantEnv)
		}
	}

	// "gradebook jaeger" accepts the command line up gives it: its own parser, stopped by -h.
	args := append(slices.Clone(jaeger.args[1:]), "-h")
	if err := jaegerCommand(context.Background(), args, func(string) string { return "" }, io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("gradebook jaeger refuses up's command line %q: %v", jaeger.args, err)
	}
}

// TestPlanWithoutTracing: without -tracing up starts no Jaeger and sets no OTEL_*
// variable of its own, so that those in its environment reach the services as they are.
func TestPlanWithoutTracing(t *testing.T) {
	children, err := plan(upConfig{data: "d", host: "127.0.0.1", gradingTransport: "http", checkInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range children {
		if ch.name == "jaeger" || slices.ContainsFunc(ch.env, func(e envVar) bool { return strings.HasPrefix(e.name, "OTEL_") }) {
			t.Errorf("%s: started or given OTEL_* without -tracing (environment %v)", ch.name, ch.env)
		}
	}
}

// TestPlanTracingRefusesJaegerOutOfRange: an offset that keeps the services' ports in range but
// not Jaeger's is refused, naming Jaeger.
func TestPlanTracingRefusesJaegerOutOfRange(t *testing.T) {
	_, err := plan(upConfig{data: "d", host: "127.0.0.1", portOffset: 50000, gradingTransport: "http", checkInterval: time.Second,
		tracing: true, jaegerBin: "jaeger"})
	if err == nil || !strings.Contains(err.Error(), "Jaeger") || !strings.Contains(err.Error(), "-port-offset 50000") {
		t.Errorf("plan with Jaeger's UI port at 66686 = %v; want an error naming Jaeger and the offset", err)
	}
}
