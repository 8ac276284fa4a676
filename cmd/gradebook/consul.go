package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gradebook/gradebook/internal/toolbuild"
)

// consulAgent builds the Consul agent pinned in tools/consul (once, then cached) and runs it
// in dev mode with its UI, for those who want to try the Consul path without installing Consul.
func consulAgent(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gradebook consul", flag.ContinueOnError)
	fs.SetOutput(stderr)
	httpPort := fs.Int("http-port", 8500, "`port` of Consul's HTTP API and UI")
	bin := fs.String("bin", "", "a Consul `binary` to run instead of the one built from tools/consul")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: gradebook consul [flags]

Builds Consul v1.14.8 from tools/consul/go.mod with the Go toolchain (about 7 minutes the first
time, seconds afterwards) and runs "consul agent -dev -ui" on 127.0.0.1. Run it from the
gradebook source tree. Then start the system on it with:
  gradebook up -registry http://127.0.0.1:8500

Flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bin == "" {
		var err error
		if *bin, err = buildTool(ctx, stdout, stderr, toolbuild.Consul); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	agent := exec.CommandContext(ctx, *bin, "agent", "-dev", "-ui", "-client", "127.0.0.1", "-bind", "127.0.0.1",
		"-http-port", strconv.Itoa(*httpPort))
	agent.Stdout, agent.Stderr = stdout, stderr
	agent.Cancel = func() error { return agent.Process.Signal(os.Interrupt) }
	agent.WaitDelay = 10 * time.Second
	fmt.Fprintf(stdout, "gradebook: Consul UI at http://127.0.0.1:%d/ui/ ; start gradebook on it with:\n  go run ./cmd/gradebook up -registry http://127.0.0.1:%d\n", *httpPort, *httpPort)
	if err := agent.Run(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("consul agent: %w", err)
	}
	return nil
}

// findModuleRoot walks up from the working directory to the gradebook source tree.
func findModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "tools", "consul", "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("tools/consul/go.mod not found: run this from the gradebook source tree")
		}
		dir = parent
	}
}
