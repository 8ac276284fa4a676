package prometheus

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gradebook/gradebook/internal/toolbuild"
)

// Version is the Prometheus release that tools/prometheus pins: the v0.316.0 Go module is
// Prometheus v3.16.0, whose official image is prom/prometheus:v3.16.0.
const Version = "3.16.0"

// Package is the import path of the server command in the pinned module.
const Package = "github.com/prometheus/prometheus/cmd/prometheus"

// DefaultPort is Prometheus's own port for its UI and HTTP API.
const DefaultPort = 9090

// Retention is how long Prometheus keeps samples: enough to look at an afternoon's traffic, short
// enough that a forgotten data directory stays small.
const Retention = "6h"

// Tool is the server pinned in tools/prometheus, for toolbuild.
var Tool = toolbuild.Tool{Name: "prometheus", Title: "Prometheus", Dir: "prometheus", Package: Package}

// Promtool is Prometheus's own checker, pinned in tools/promtool at the same release: the tests
// run "promtool check rules", "check config" and "test rules" on what this package writes.
var Promtool = toolbuild.Tool{Name: "promtool", Title: "promtool", Dir: "promtool", Package: "github.com/prometheus/prometheus/cmd/promtool"}

// PromtoolBinary is Binary for Promtool.
func PromtoolBinary(ctx context.Context, root string, progress io.Writer) (string, error) {
	return toolbuild.Binary(ctx, root, Promtool, progress)
}

// Binary returns the path of the Prometheus server built from tools/prometheus under root (the
// gradebook source tree), built once per pin and Go version and kept in the user's cache directory
// (see toolbuild.Binary). The go command's output goes to progress, which may be nil.
func Binary(ctx context.Context, root string, progress io.Writer) (string, error) {
	return toolbuild.Binary(ctx, root, Tool, progress)
}

// Server is the host:port of a registry's Consul HTTP API as consul_sd_configs names it, taken
// from its URL (http://127.0.0.1:8500 or 127.0.0.1:8500).
func Server(registryURL string) (string, error) {
	u, err := url.Parse(registryURL)
	if err != nil || u.Host == "" {
		if _, _, splitErr := net.SplitHostPort(registryURL); splitErr == nil {
			return registryURL, nil
		}
		return "", fmt.Errorf("registry %q is neither a URL nor host:port", registryURL)
	}
	if u.Scheme != "http" {
		return "", fmt.Errorf("registry %q: only http is supported", registryURL)
	}
	return u.Host, nil
}

// Rules are the recording and alerting rules the configuration loads from RulesFile, beside it.
//
//go:embed rules.yml
var Rules []byte

// RulesFile is the name of the rules file, relative to the configuration's directory. A
// Prometheus that finds no such file (compose's, when it is not mounted) loads no rules.
const RulesFile = "rules.yml"

// Config is the Prometheus configuration that discovers every service registered with the
// registry whose Consul API is at server (host:port, see Server) and scrapes its HTTP instances
// every interval, with Rules loaded from RulesFile. token, when set, is the ACL token Prometheus
// sends the registry (a Consul agent with ACLs; the hub needs none to read). Instances tagged grpc
// serve no /metrics and are dropped, as are those of a service named consul (a Consul agent
// registers itself, with its server RPC port). Each series carries the service's name as service
// and the instance's address as instance. The hub and a Consul agent take the same
// configuration: only server (and token) differ.
func Config(server, token string, interval time.Duration) []byte {
	tokenLine := ""
	if token != "" {
		tokenLine = fmt.Sprintf("        token: %q\n", token)
	}
	return fmt.Appendf(nil, `global:
  scrape_interval: %[2]s
  scrape_timeout: %[3]s
  evaluation_interval: %[2]s

rule_files:
  - %[5]s

scrape_configs:
  - job_name: gradebook
    metrics_path: /metrics
    consul_sd_configs:
      - server: %[1]q
%[4]s        refresh_interval: %[2]s
    relabel_configs:
      # gRPC instances serve no /metrics; their tags are ",grpc," in __meta_consul_tags.
      - source_labels: [__meta_consul_tags]
        regex: .*,grpc,.*
        action: drop
      # A Consul agent registers itself as "consul", on its server RPC port.
      - source_labels: [__meta_consul_service]
        regex: consul
        action: drop
      - source_labels: [__meta_consul_service]
        target_label: service
      - source_labels: [__meta_consul_service_id]
        target_label: service_id
      - source_labels: [__address__]
        target_label: instance
`, server, model(interval), model(scrapeTimeout(interval)), tokenLine, RulesFile)
}

// scrapeTimeout is at most the interval (Prometheus refuses a longer one) and at most 10s.
func scrapeTimeout(interval time.Duration) time.Duration {
	return min(interval, 10*time.Second)
}

// model writes d as a Prometheus duration: whole milliseconds, in the largest unit that is exact.
func model(d time.Duration) string {
	ms := d.Milliseconds()
	switch {
	case ms <= 0:
		return "1ms"
	case ms%60000 == 0:
		return strconv.FormatInt(ms/60000, 10) + "m"
	case ms%1000 == 0:
		return strconv.FormatInt(ms/1000, 10) + "s"
	default:
		return strconv.FormatInt(ms, 10) + "ms"
	}
}

// WriteConfig writes Config to dir/prometheus.yml, and Rules beside it, and returns the
// configuration's path, for Command. The configuration is readable by its owner only, since it
// may hold a token.
func WriteConfig(dir, server, token string, interval time.Duration) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, RulesFile), Rules, 0o644); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "prometheus.yml")
	// WriteFile keeps the mode of a file that exists: one written before by an older version may
	// be readable by all.
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	return path, os.WriteFile(path, Config(server, token, interval), 0o600)
}

// Addr is host:port, as --web.listen-address takes it.
func Addr(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// Command is the command that runs the binary bin with the configuration file config, its
// storage in data (kept for Retention), its UI and API on addr (host:port) only, and its own log
// at logLevel (debug, info, warn, error).
func Command(bin, config, data, addr, logLevel string) *exec.Cmd {
	return exec.Command(bin, "--config.file="+config, "--storage.tsdb.path="+data,
		"--storage.tsdb.retention.time="+Retention, "--web.listen-address="+addr, "--log.level="+logLevel)
}

// WaitReady polls until the Prometheus at baseURL (http://host:port) says it is ready, or ctx
// ends. It gives up early when exited (which may be nil) is closed.
func WaitReady(ctx context.Context, baseURL string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	ready := func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/-/ready", nil)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /-/ready: %s", resp.Status)
		}
		return nil
	}
	return Tool.WaitReady(ctx, baseURL, exited, ready)
}
