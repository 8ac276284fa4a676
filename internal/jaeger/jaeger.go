package jaeger

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gradebook/gradebook/internal/toolbuild"
)

// Version is the Jaeger release that tools/jaeger pins: the v1.76.0 Go module is Jaeger v2.13.0's
// all-in-one, whose official image is jaegertracing/jaeger:2.13.0.
const Version = "2.13.0"

// Package is the import path of the all-in-one command in the pinned module.
const Package = "github.com/jaegertracing/jaeger/cmd/jaeger"

// Default ports are Jaeger's own: the UI and query API, its gRPC query API, and OTLP over gRPC and
// over HTTP.
const (
	DefaultUIPort        = 16686
	DefaultQueryGRPCPort = 16685
	DefaultOTLPGRPCPort  = 4317
	DefaultOTLPHTTPPort  = 4318
)

// Addrs are where a Jaeger listens: one host, and a port for each listener. Its zero value is not
// useful; start from DefaultAddrs.
type Addrs struct {
	Host      string
	UI        int // the UI and the HTTP query API (/api/traces/{id}, /api/v3/...)
	QueryGRPC int // the gRPC query API
	OTLPGRPC  int
	OTLPHTTP  int
}

// DefaultAddrs are Jaeger's default ports on host.
func DefaultAddrs(host string) Addrs {
	return Addrs{Host: host, UI: DefaultUIPort, QueryGRPC: DefaultQueryGRPCPort, OTLPGRPC: DefaultOTLPGRPCPort, OTLPHTTP: DefaultOTLPHTTPPort}
}

// Offset is a with every port moved by n.
func (a Addrs) Offset(n int) Addrs {
	a.UI += n
	a.QueryGRPC += n
	a.OTLPGRPC += n
	a.OTLPHTTP += n
	return a
}

func (a Addrs) hostPort(port int) string { return net.JoinHostPort(a.Host, strconv.Itoa(port)) }

// UIURL is the address of Jaeger's UI and HTTP query API.
func (a Addrs) UIURL() string { return "http://" + a.hostPort(a.UI) }

// OTLPHTTPEndpoint is the OTLP/HTTP receiver as OTEL_EXPORTER_OTLP_ENDPOINT names it (the SDK
// appends /v1/traces).
func (a Addrs) OTLPHTTPEndpoint() string { return "http://" + a.hostPort(a.OTLPHTTP) }

// OTLPGRPCEndpoint is the OTLP/gRPC receiver as OTEL_EXPORTER_OTLP_ENDPOINT names it with
// OTEL_EXPORTER_OTLP_PROTOCOL=grpc.
func (a Addrs) OTLPGRPCEndpoint() string { return "http://" + a.hostPort(a.OTLPGRPC) }

// Listens are every address a Jaeger with these Addrs listens on, named, for a check that they
// are free before it starts.
func (a Addrs) Listens() map[string]string {
	return map[string]string{
		"jaeger UI":         a.hostPort(a.UI),
		"jaeger query gRPC": a.hostPort(a.QueryGRPC),
		"jaeger OTLP gRPC":  a.hostPort(a.OTLPGRPC),
		"jaeger OTLP HTTP":  a.hostPort(a.OTLPHTTP),
	}
}

// Config is the collector configuration that runs Jaeger as an all-in-one with in-memory storage
// (at most maxTraces traces, the oldest dropped first) listening on a only. Jaeger's built-in
// configuration would also open its sampling, Zipkin, legacy Jaeger, health, expvar, zpages and
// metrics ports, on fixed numbers and some on every interface; none of them is needed to receive
// OTLP and look at traces. Jaeger's tracing of its own queries is off, so that the only traces
// it holds are its clients'. Spans go from the OTLP receiver to storage with no batch
// processor: the services' exporters already send them in batches, and batching them again
// cost Jaeger about a sixth of its CPU. logLevel is Jaeger's own (debug, info, warn, error). assetsPath is
// the directory its UI is served from (see WriteUI); "" leaves Jaeger's placeholder page.
func Config(a Addrs, maxTraces int, logLevel, assetsPath string) []byte {
	ui := ""
	if assetsPath != "" {
		ui = fmt.Sprintf("\n    ui:\n      assets_path: %q", assetsPath)
	}
	return fmt.Appendf(nil, `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: none
    logs:
      level: %s

extensions:
  jaeger_storage:
    backends:
      memory_store:
        memory:
          max_traces: %d
  jaeger_query:
    storage:
      traces: memory_store
    enable_tracing: false%s
    http:
      endpoint: %q
    grpc:
      endpoint: %q

receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %q
      http:
        endpoint: %q

exporters:
  jaeger_storage_exporter:
    trace_storage: memory_store
`, logLevel, maxTraces, ui, a.hostPort(a.UI), a.hostPort(a.QueryGRPC), a.hostPort(a.OTLPGRPC), a.hostPort(a.OTLPHTTP))
}

// WriteConfig writes gradebook's trace view into dir/ui (see WriteUI) and Config, serving it, to
// dir/jaeger.yaml, and returns the configuration's path, for Command.
func WriteConfig(dir string, a Addrs, maxTraces int, logLevel string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	assets := filepath.Join(dir, "ui")
	if err := WriteUI(assets); err != nil {
		return "", fmt.Errorf("trace view: %w", err)
	}
	path := filepath.Join(dir, "jaeger.yaml")
	return path, os.WriteFile(path, Config(a, maxTraces, logLevel, assets), 0o644)
}

// Command is the command that runs the binary bin with the configuration file config.
func Command(bin, config string) *exec.Cmd {
	return exec.Command(bin, "--config", config)
}

// WaitReady polls until the Jaeger at a answers its query API and accepts connections on both
// OTLP receivers, or ctx ends. It gives up early when exited (which may be nil) is closed.
func WaitReady(ctx context.Context, a Addrs, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	ready := func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.UIURL()+"/api/services", nil)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /api/services: %s", resp.Status)
		}
		var d net.Dialer
		for _, port := range []int{a.OTLPGRPC, a.OTLPHTTP} {
			c, err := d.DialContext(ctx, "tcp", a.hostPort(port))
			if err != nil {
				return err
			}
			c.Close()
		}
		return nil
	}
	return Tool.WaitReady(ctx, a.UIURL(), exited, ready)
}

// Tool is the all-in-one pinned in tools/jaeger, for toolbuild.
var Tool = toolbuild.Tool{Name: "jaeger", Title: "Jaeger", Dir: "jaeger", Package: Package}

// Binary returns the path of the Jaeger all-in-one built from tools/jaeger under root (the
// gradebook source tree), built once per pin and Go version and kept in the user's cache
// directory (see toolbuild.Binary). The go command's output goes to progress.
func Binary(ctx context.Context, root string, progress io.Writer) (string, error) {
	return toolbuild.Binary(ctx, root, Tool, progress)
}
