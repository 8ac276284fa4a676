package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gradebook/gradebook/internal/jaeger"
	"github.com/gradebook/gradebook/pkg/config"
)

// jaegerMaxTraces is how many traces "gradebook jaeger" keeps in memory before it drops the
// oldest: enough for a long afternoon of clicking, bounded so that it never grows without end.
const jaegerMaxTraces = 100000

// jaegerConfig is what "gradebook jaeger" is asked to do.
type jaegerConfig struct {
	addrs    jaeger.Addrs
	bin      string
	data     string
	logLevel string
}

// jaegerFlags declares the flags of "gradebook jaeger" on fs.
func jaegerFlags(fs *flag.FlagSet, c *jaegerConfig) {
	d := jaeger.DefaultAddrs("127.0.0.1")
	fs.StringVar(&c.addrs.Host, "host", d.Host, "`address` Jaeger listens on")
	fs.IntVar(&c.addrs.UI, "ui-port", d.UI, "`port` of Jaeger's UI and HTTP query API")
	fs.IntVar(&c.addrs.QueryGRPC, "query-grpc-port", d.QueryGRPC, "`port` of Jaeger's gRPC query API")
	fs.IntVar(&c.addrs.OTLPGRPC, "otlp-grpc-port", d.OTLPGRPC, "`port` of the OTLP receiver over gRPC")
	fs.IntVar(&c.addrs.OTLPHTTP, "otlp-http-port", d.OTLPHTTP, "`port` of the OTLP receiver over HTTP")
	fs.StringVar(&c.bin, "bin", "", "run this Jaeger `binary` instead of the one built from tools/jaeger")
	fs.StringVar(&c.data, "data", "", "`directory` for Jaeger's configuration file and the trace view's files (default: a temporary one, removed at exit); the traces themselves are kept in memory only")
	fs.StringVar(&c.logLevel, "log-level", "info", "Jaeger's own log `level`: debug, info, warn or error")
}

// jaegerCommand runs the Jaeger all-in-one pinned in tools/jaeger with in-memory storage, building
// it first when needed, until ctx ends.
func jaegerCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gradebook jaeger", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c jaegerConfig
	jaegerFlags(fs, &c)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: gradebook jaeger [flags]

Runs Jaeger %s (all-in-one, traces kept in memory: at most %d, the oldest dropped first),
built from tools/jaeger/go.mod with the Go toolchain (a few minutes the first time, then cached in
the user cache directory; run it from the gradebook source tree, or give -bin). It listens on
-host only: the UI and query API on -ui-port, OTLP on -otlp-grpc-port and -otlp-http-port.
Point the services at it with:
  OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 gradebook up
or let "gradebook up -tracing" start it with the system.

A Jaeger built from the Go module has no UI of its own (the UI's assets are not part of the
module), so it serves gradebook's minimal trace view, written next to its configuration: a list
of a service's recent traces (/search) and one trace's timeline (/trace/<id>), read from its
query API (/api/traces/{id}, /api/v3/...), which is complete. Jaeger's full UI comes with the
official image, jaegertracing/jaeger:%s.

Flags also read GRADEBOOK_<FLAG> variables.

Flags:
`, jaeger.Version, jaegerMaxTraces, jaeger.Version)
		fs.PrintDefaults()
	}
	if err := config.Parse(fs, args, getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("jaeger takes no arguments, got %q", fs.Args())
	}
	if c.bin == "" {
		var err error
		if c.bin, err = buildTool(ctx, stdout, stderr, jaeger.Tool); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	if c.data == "" {
		dir, err := os.MkdirTemp("", "gradebook-jaeger-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		c.data = dir
	}
	cfg, err := jaeger.WriteConfig(c.data, c.addrs, jaegerMaxTraces, c.logLevel)
	if err != nil {
		return fmt.Errorf("jaeger config: %w", err)
	}
	cmd := jaeger.Command(c.bin, cfg)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	up := fmt.Sprintf("gradebook: Jaeger %s is up: UI and query API at %s/, OTLP at %s (HTTP) and %s (gRPC)",
		jaeger.Version, c.addrs.UIURL(), c.addrs.OTLPHTTPEndpoint(), c.addrs.OTLPGRPCEndpoint())
	return runTool(ctx, stdout, cmd, "jaeger", func(ctx context.Context, exited <-chan struct{}) error {
		return jaeger.WaitReady(ctx, c.addrs, exited)
	}, up)
}
