// Command gradebook runs the whole gradebook system, or one of its services.
//
//	gradebook up                 start registry, log, grading and portal as separate processes
//	gradebook registry|log|grading|portal [flags]   run one service in this process
//	gradebook consul             start a local Consul dev agent built from tools/consul
//	gradebook jaeger             start a local Jaeger (traces in memory) built from tools/jaeger
//	gradebook prometheus         start a local Prometheus that scrapes every service, built from tools/prometheus
//	gradebook user hash NAME     print a -users file line for NAME, the password read from stdin
//	gradebook bench              measure the whole running system under load from a separate process
//
// Every service also has its own binary under cmd/ for those who run one per terminal.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"syscall"

	gradingserver "github.com/gradebook/gradebook/grading/server"
	"github.com/gradebook/gradebook/logging"
	"github.com/gradebook/gradebook/pkg/service"
	"github.com/gradebook/gradebook/portal"
	"github.com/gradebook/gradebook/registry"
)

func main() {
	// "gradebook registry" makes this process the hub: its collector is tuned as in
	// cmd/registryservice, which says why (an explicit GOGC still wins). main does it, not run:
	// the setting is the whole process's.
	if len(os.Args) > 1 && os.Args[1] == "registry" && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(registry.GCPercent)
	}
	// Every service command's process keeps to a soft memory limit and gives back its start-up
	// pages once it serves, as service.Main's do.
	if len(os.Args) > 1 && slices.ContainsFunc(services(), func(s serviceCommand) bool { return s.name == os.Args[1] }) {
		service.LimitMemory(os.Getenv)
		service.ReleaseAtServe()
	}
	// SIGHUP too: a closed terminal must stop the services as cleanly as Ctrl-C does.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "gradebook:", err)
		os.Exit(1)
	}
}

// serviceCommand is one service that "gradebook <name>" runs in this process.
type serviceCommand struct {
	name string // the service's own default name, which is also its command
	run  service.RunFunc
	what string
}

// services lists the launcher's service commands, in start-up order.
func services() []serviceCommand {
	return []serviceCommand{
		{registry.DefaultName, registry.Run, "the registry: a Consul-compatible hub with health checks"},
		{logging.DefaultName, logging.Run, "the central log service"},
		{gradingserver.DefaultName, gradingserver.Run, "students and grades, stored in an embedded file store"},
		{portal.DefaultName, portal.Run, "the teacher portal: web pages and the /api/v1 gateway"},
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "up":
		return up(ctx, rest, getenv, stdout, stderr)
	case "bench":
		return benchCommand(ctx, rest, getenv, stdout, stderr)
	case "bench-proxy":
		return benchProxyCommand(ctx, rest, getenv, stderr)
	case "consul":
		return consulAgent(ctx, rest, stdout, stderr)
	case "jaeger":
		return jaegerCommand(ctx, rest, getenv, stdout, stderr)
	case "prometheus":
		return prometheusCommand(ctx, rest, getenv, stdout, stderr)
	case "user":
		return userCommand(rest, stdin, stdout, stderr)
	case "health", "version":
		return imageCommand(ctx, cmd, rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return nil
	}
	for _, s := range services() {
		if s.name == cmd {
			return s.run(ctx, rest, getenv, stderr)
		}
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", cmd)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `gradebook: a small, fault-tolerant gradebook built from four services.

Usage:
  gradebook up [flags]         start the whole system, each service as its own process
  gradebook <service> [flags]  run one service in this process
  gradebook consul [flags]     start a local Consul dev agent (built from tools/consul)
  gradebook jaeger [flags]     start a local Jaeger, traces kept in memory (built from tools/jaeger)
  gradebook prometheus [flags] start a local Prometheus scraping every service (built from tools/prometheus)
  gradebook user hash NAME     print a line for the portal's -users file (password on stdin)
  gradebook bench [flags]      measure the running system: grading, a bare proxy, the gateway, a page
  gradebook health URL         exit 0 if URL answers 2xx (a container health check)
  gradebook version            print the version and the commit it was built from

Services:
`)
	for _, s := range services() {
		fmt.Fprintf(w, "  %-9s %s (:%d)\n", s.name, s.what, listenPort(s.name))
	}
	fmt.Fprint(w, `
Run "gradebook up -h" or "gradebook <service> -h" for the flags of each.
`)
}
