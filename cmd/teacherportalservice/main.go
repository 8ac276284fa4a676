// Command teacherportalservice runs the teacher portal: the web pages a teacher uses and the
// /api/v1 gateway, in front of the grading instances found through the registry.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gradebook/gradebook/portal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := portal.Run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "teacherportalservice:", err)
		os.Exit(1)
	}
}
