// Command gradingservice runs the grading service: students, grades and averages over
// HTTP+JSON, stored in an embedded file store under -data. Run with -h for its flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gradebook/gradebook/grading"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := grading.Run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "gradingservice:", err)
		os.Exit(1)
	}
}
