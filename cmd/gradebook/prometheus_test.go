package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/prometheustest"
	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/registry/registrytest"
)

const testACLToken = "3f1c9a7e-5b2d-4e8f-9a6c-1d0b7e2f4a35"

// TestPrometheusTokenHiddenFromHelp: a token from CONSUL_HTTP_TOKEN or GRADEBOOK_TOKEN is never
// shown as -token's default, and -h says where it comes from.
func TestPrometheusTokenHiddenFromHelp(t *testing.T) {
	for _, env := range []string{"CONSUL_HTTP_TOKEN", "GRADEBOOK_TOKEN"} {
		var stderr testkit.Buffer
		getenv := func(k string) string {
			if k == env {
				return testACLToken
			}
			return ""
		}
		if err := prometheusCommand(context.Background(), []string{"-h"}, getenv, &stderr, &stderr); !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("-h: %v", err)
		}
		if strings.Contains(stderr.String(), testACLToken) {
			t.Errorf("with %s set, -h prints the token:\n%s", env, stderr.String())
		}
		for _, want := range []string{"-token", "CONSUL_HTTP_TOKEN"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("-h lacks %s:\n%s", want, stderr.String())
			}
		}
	}
}

// TestPrometheusToken runs "gradebook prometheus" with the real Prometheus and CONSUL_HTTP_TOKEN
// set, discovering through a hub behind a proxy that records the X-Consul-Token of every
// request: Prometheus's Consul discovery sends the token, finds the hub's services and scrapes
// them; the configuration holding the token is readable by its owner only, and neither
// "gradebook prometheus" nor Prometheus prints it.
func TestPrometheusToken(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prometheus")
	}
	promBin := prometheustest.Binary(t) // skips loudly without CI, fails under CI=true
	hub, err := url.Parse("http://" + registrytest.StartHub(t))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	tokens := map[string]int{} // X-Consul-Token → requests to /v1/ that carried it
	rp := httputil.NewSingleHostReverseProxy(hub)
	// Prometheus's blocking queries are cut when it stops: not worth a line.
	rp.ErrorLog = log.New(io.Discard, "", 0)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/") {
			mu.Lock()
			tokens[r.Header.Get("X-Consul-Token")]++
			mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()

	port := testkit.FreePort(t)
	data := t.TempDir()
	var out testkit.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	getenv := func(k string) string {
		if k == "CONSUL_HTTP_TOKEN" {
			return testACLToken
		}
		return ""
	}
	go func() {
		done <- prometheusCommand(ctx, []string{"-bin", promBin, "-registry", proxy.URL, "-port", strconv.Itoa(port),
			"-data", data, "-scrape-interval", "1s", "-log-level", "info"}, getenv, &out, &out)
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gradebook prometheus: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("gradebook prometheus did not stop within 30s")
		}
		if strings.Contains(out.String(), testACLToken) {
			t.Errorf("the output shows the token:\n%s", out.String())
		}
	}()

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	testkit.Until(t, 90*time.Second, func() string {
		targets, err := prometheustest.Targets(base)
		if err != nil {
			return err.Error()
		}
		for _, tg := range targets {
			if tg.Labels["service"] == "registry" && tg.Health == "up" {
				return ""
			}
		}
		return fmt.Sprintf("Prometheus does not scrape the hub yet: %v", targets)
	})
	mu.Lock()
	seen := fmt.Sprint(tokens)
	with, without := tokens[testACLToken], tokens[""]
	mu.Unlock()
	if with == 0 || without != 0 {
		t.Errorf("requests to the registry by X-Consul-Token: %s; want every one with the token", seen)
	}
	cfg := filepath.Join(data, "prometheus.yml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "token: \""+testACLToken+"\"") {
		t.Errorf("%s lacks the token:\n%s", cfg, b)
	}
	if fi, err := os.Stat(cfg); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v; want 0600: it holds the token", cfg, fi.Mode().Perm())
	}
}

// TestPlanMonitoringToken: up's -token reaches Prometheus through its environment, never its
// command line, and the line up prints to start it again hides it.
func TestPlanMonitoringToken(t *testing.T) {
	c := upConfig{data: "d", host: "127.0.0.1", gradingTransport: "http", checkInterval: time.Second,
		monitoring: true, prometheusBin: "/opt/prometheus", registry: "http://127.0.0.1:8500", token: testACLToken}
	children, err := plan(c)
	if err != nil {
		t.Fatal(err)
	}
	mon := children[len(children)-1]
	if mon.name != "prometheus" {
		t.Fatalf("the last process is %s, want prometheus", mon.name)
	}
	if strings.Contains(strings.Join(mon.args, " "), testACLToken) {
		t.Errorf("prometheus's command line holds the token: %q", mon.args)
	}
	if len(mon.env) != 1 || mon.env[0].name != "GRADEBOOK_TOKEN" || mon.env[0].value != testACLToken || !mon.env[0].hidden {
		t.Errorf("prometheus's environment %+v; want GRADEBOOK_TOKEN with the token, hidden", mon.env)
	}
	if line := mon.commandLine("gradebook"); strings.Contains(line, testACLToken) || !strings.Contains(line, "GRADEBOOK_TOKEN=xxxxx") {
		t.Errorf("up would print %q to start prometheus again; want GRADEBOOK_TOKEN=xxxxx and no token", line)
	}
}
