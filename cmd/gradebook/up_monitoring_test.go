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

// TestPlanMonitoring checks what -monitoring adds to up's plan: Prometheus last (so that it is
// stopped first, before it could record the services' shutdown as an outage), on its port moved by
// -port-offset on -host, discovering through the hub up starts or the -registry it is given; the
// services' command lines unchanged.
func TestPlanMonitoring(t *testing.T) {
	c := upConfig{data: "d", host: "127.0.0.2", portOffset: 100, gradingTransport: "http", checkInterval: time.Second,
		monitoring: true, prometheusBin: "/opt/prometheus"}
	children, err := plan(c)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ch := range children {
		got = append(got, strings.Join(ch.args, " "))
	}
	want := []string{
		"registry -listen 127.0.0.2:3100 -data d/registry -check-interval 1s",
		"log -listen 127.0.0.2:4100 -data d/log -check-interval 1s -registry http://127.0.0.2:3100",
		"grading -listen 127.0.0.2:6100 -data d/grading -check-interval 1s -registry http://127.0.0.2:3100 -grpc-listen 127.0.0.2:6101",
		"portal -listen 127.0.0.2:5100 -data d/portal -check-interval 1s -registry http://127.0.0.2:3100 -grading-transport http",
		"prometheus -bin /opt/prometheus -registry http://127.0.0.2:3100 -host 127.0.0.2 -port 9190 -data d/prometheus -scrape-interval 5s -log-level warn",
	}
	if !slices.Equal(got, want) {
		t.Errorf("command lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	mon := children[len(children)-1]
	if mon.listen != "127.0.0.2:9190" || mon.health != "/-/ready" || len(mon.regs) != 0 || len(mon.env) != 0 {
		t.Errorf("prometheus: polled at %s%s, registrations %v, environment %v; want 127.0.0.2:9190/-/ready, none, none",
			mon.listen, mon.health, mon.regs, mon.env)
	}
	if !slices.ContainsFunc(mon.links, func(l string) bool { return strings.HasPrefix(l, "http://127.0.0.2:9190/") }) {
		t.Errorf("up prints %q for prometheus; want its API among them", mon.links)
	}

	// "gradebook prometheus" accepts the command line up gives it: its own parser, stopped by -h.
	args := append(slices.Clone(mon.args[1:]), "-h")
	if err := prometheusCommand(context.Background(), args, func(string) string { return "" }, io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("gradebook prometheus refuses up's command line %q: %v", mon.args, err)
	}

	// With -registry, Prometheus discovers through that registry, and no hub is started.
	c.registry = "http://127.0.0.1:8500"
	children, err = plan(c)
	if err != nil {
		t.Fatal(err)
	}
	last := children[len(children)-1]
	if !strings.Contains(strings.Join(last.args, " "), "-registry http://127.0.0.1:8500 ") {
		t.Errorf("with -registry, prometheus runs %q; want -registry http://127.0.0.1:8500", last.args)
	}
}

// TestPlanWithoutMonitoring: without -monitoring up starts no Prometheus.
func TestPlanWithoutMonitoring(t *testing.T) {
	children, err := plan(upConfig{data: "d", host: "127.0.0.1", gradingTransport: "http", checkInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range children {
		if ch.name == "prometheus" {
			t.Errorf("prometheus started without -monitoring")
		}
	}
}

// TestPlanMonitoringRefusesOutOfRange: an offset that keeps the services' ports in range but not
// Prometheus's is refused, naming Prometheus.
func TestPlanMonitoringRefusesOutOfRange(t *testing.T) {
	_, err := plan(upConfig{data: "d", host: "127.0.0.1", portOffset: 57000, gradingTransport: "http", checkInterval: time.Second,
		monitoring: true, prometheusBin: "prometheus"})
	if err == nil || !strings.Contains(err.Error(), "Prometheus") || !strings.Contains(err.Error(), "-port-offset 57000") {
		t.Errorf("plan with Prometheus's port at 66090 = %v; want an error naming Prometheus and the offset", err)
	}
}
