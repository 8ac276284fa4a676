package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/gradebook/gradebook/internal/prometheus"
	"github.com/gradebook/gradebook/pkg/config"
)

// prometheusConfig is what "gradebook prometheus" is asked to do.
type prometheusConfig struct {
	registry       string
	token          string
	host           string
	port           int
	bin            string
	data           string
	scrapeInterval time.Duration
	logLevel       string
}

// prometheusFlags declares the flags of "gradebook prometheus" on fs.
func prometheusFlags(fs *flag.FlagSet, c *prometheusConfig) {
	fs.StringVar(&c.registry, "registry", config.DefaultRegistry, "discover the services through the registry (or Consul agent) at this `URL`")
	// The default is always shown empty: the variables set it after the flag is declared, so -h
	// never prints a token.
	fs.StringVar(&c.token, "token", "", "ACL `token` Prometheus sends the registry (a Consul agent with ACLs; the hub needs none to read); also CONSUL_HTTP_TOKEN")
	fs.StringVar(&c.host, "host", "127.0.0.1", "`address` Prometheus listens on")
	fs.IntVar(&c.port, "port", prometheus.DefaultPort, "`port` of Prometheus's HTTP API")
	fs.StringVar(&c.bin, "bin", "", "run this Prometheus `binary` instead of the one built from tools/prometheus")
	fs.StringVar(&c.data, "data", "", "`directory` for Prometheus's configuration and storage (default: a temporary one, removed at exit)")
	fs.DurationVar(&c.scrapeInterval, "scrape-interval", 5*time.Second, "how often Prometheus scrapes each instance and asks the registry for changes")
	fs.StringVar(&c.logLevel, "log-level", "info", "Prometheus's own log `level`: debug, info, warn or error")
}

// prometheusCommand runs the Prometheus server pinned in tools/prometheus, discovering the
// services through -registry, building it first when needed, until ctx ends.
func prometheusCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gradebook prometheus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c prometheusConfig
	prometheusFlags(fs, &c)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: gradebook prometheus [flags]

Runs Prometheus %s, built from tools/prometheus/go.mod with the Go toolchain (many minutes the
first time, then cached in the user cache directory; run it from the gradebook source tree, or
give -bin). It discovers every service through the registry at -registry (the hub or a Consul
agent: the same configuration, Consul's service discovery) and scrapes /metrics on each HTTP
instance every -scrape-interval, labelling every series with service and instance, and loads the
recording and alerting rules shipped with gradebook (docs/MONITORING.md). Samples are kept for
%s. It listens on -host:-port only, or let "gradebook up -monitoring" start it with the system.

A Prometheus built from the Go module serves no web UI (its assets are not part of the module);
its HTTP API (/api/v1/query, /api/v1/targets, ...) is complete, and Grafana or promtool can use
it. The official image, prom/prometheus:v%s, has the UI.

Flags also read GRADEBOOK_<FLAG> variables, and -registry and -token read CONSUL_HTTP_ADDR and
CONSUL_HTTP_TOKEN. The token is written into the configuration under -data (readable by its
owner only), never to the output.

Flags:
`, prometheus.Version, prometheus.Retention, prometheus.Version)
		fs.PrintDefaults()
	}
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("prometheus takes no arguments, got %q", fs.Args())
	}
	if c.scrapeInterval < time.Second {
		return fmt.Errorf("-scrape-interval %s: want 1s or more", c.scrapeInterval)
	}
	registryURL, err := config.NormalizeURL(c.registry)
	if err != nil {
		return fmt.Errorf("-registry: %w", err)
	}
	server, err := prometheus.Server(registryURL)
	if err != nil {
		return fmt.Errorf("-registry: %w", err)
	}
	if c.bin == "" {
		var err error
		if c.bin, err = buildTool(ctx, stdout, stderr, prometheus.Tool); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	if c.data == "" {
		dir, err := os.MkdirTemp("", "gradebook-prometheus-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		c.data = dir
	}
	cfg, err := prometheus.WriteConfig(c.data, server, c.token, c.scrapeInterval)
	if err != nil {
		return fmt.Errorf("prometheus config: %w", err)
	}
	addr := prometheus.Addr(c.host, c.port)
	baseURL := "http://" + addr
	cmd := prometheus.Command(c.bin, cfg, filepath.Join(c.data, "tsdb"), addr, c.logLevel)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	up := fmt.Sprintf("gradebook: Prometheus %s is up: API at %s/api/v1/, discovering services through %s every %s",
		prometheus.Version, baseURL, server, c.scrapeInterval)
	return runTool(ctx, stdout, cmd, "prometheus", func(ctx context.Context, exited <-chan struct{}) error {
		return prometheus.WaitReady(ctx, baseURL, exited)
	}, up)
}
