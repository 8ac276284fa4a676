package service

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// RunFunc is the shape of every service's Run: it serves until ctx ends and returns nil after a
// clean stop, flag.ErrHelp after -h, or what kept it from serving.
type RunFunc func(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error

// Main runs run as a program called name: SIGINT and SIGTERM end its context, -h exits 0, and
// an error is printed and exits 1. It sets the process's soft memory limit (LimitMemory) first,
// and has the service give back its start-up pages once it serves (ReleaseAtServe).
// It is all a service's main function needs to do.
func Main(name string, run RunFunc) {
	LimitMemory(os.Getenv)
	ReleaseAtServe()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}
