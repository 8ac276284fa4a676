package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"

	"github.com/gradebook/gradebook/internal/toolbuild"
)

// runTool runs cmd (Jaeger, Prometheus) in the foreground until ctx ends: it starts it, waits up
// to a minute for ready, prints upMsg to stdout, and then stops it with SIGTERM (SIGKILL after
// 10 s) when ctx ends. It fails if the program exits on its own or is not ready in time; name
// says which program in the errors. The program gets SIGTERM too should this process die without
// stopping it, so that it never outlives it holding its ports.
func runTool(ctx context.Context, stdout io.Writer, cmd *exec.Cmd, name string,
	ready func(ctx context.Context, exited <-chan struct{}) error, upMsg string) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	readyCtx, cancel := context.WithTimeout(ctx, time.Minute)
	err := ready(readyCtx, exited)
	cancel()
	switch {
	case ctx.Err() != nil:
		stop()
		return nil
	case err != nil:
		stop()
		return fmt.Errorf("%w (exit: %v; %s's output is above)", err, waitErr, name)
	}
	fmt.Fprintln(stdout, upMsg)
	select {
	case <-exited:
		return fmt.Errorf("%s exited: %v", name, waitErr)
	case <-ctx.Done():
		stop()
		return nil
	}
}

// buildTool returns t's binary, built from the source tree this command runs in (tools/<Dir>)
// once per pin and toolchain and then cached; it says so first, since the first build takes
// minutes. The go command's output goes to stderr.
func buildTool(ctx context.Context, stdout, stderr io.Writer, t toolbuild.Tool) (string, error) {
	root, err := findModuleRoot()
	if err != nil {
		return "", fmt.Errorf("%s is built from tools/%s: %w", t.Title, t.Dir, err)
	}
	fmt.Fprintf(stdout, "gradebook: %s is built from tools/%s once, then cached (the first build takes several minutes)...\n", t.Title, t.Dir)
	bin, err := toolbuild.Binary(ctx, root, t, stderr)
	if err != nil {
		return "", fmt.Errorf("build %s: %w", t.Name, err)
	}
	return bin, nil
}
