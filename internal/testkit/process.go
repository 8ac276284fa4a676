package testkit

import (
	"os/exec"
	"syscall"
	"time"
)

// Process is a program a test started (a service's binary, Consul, Jaeger): its exit is watched
// from the start, so that a test can wait for it to serve and fail at once if it dies instead,
// and Stop ends it.
type Process struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartProcess starts cmd and watches for its exit. A stopped program may exit non-zero; its
// output says why, so the exit status is not kept.
func StartProcess(cmd *exec.Cmd) (*Process, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Pid is the program's process ID.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited is closed once the program has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Stop sends SIGTERM and waits up to grace for the program to exit, then kills it; it reports
// whether it had to. Stopping a program that has exited does nothing.
func (p *Process) Stop(grace time.Duration) (killed bool) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return false
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return true
	}
}
