package registrytest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/testkit"
)

// HubProcess is the registryservice command running as its own OS process, as in production, so
// that what is measured is the hub alone: not the test process, and not the race detector when
// the tests run under -race.
type HubProcess struct {
	Addr string // host:port
	Pid  int
	Data string // its -data directory
	Log  string // the file its stderr goes to
}

// StartHubProcess builds cmd/registryservice into a temp dir, starts it on a free port of
// 127.0.0.1 with a fresh -data and waits for /v1/status/leader. args are extra flags. It is
// stopped at t's cleanup with SIGTERM (SIGKILL after 10 s).
func StartHubProcess(t testing.TB, args ...string) *HubProcess {
	t.Helper()
	bin := testkit.BuildCommand(t, "github.com/gradebook/gradebook/cmd/registryservice")
	dir := t.TempDir()
	hp := &HubProcess{
		Addr: fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t)),
		Data: filepath.Join(dir, "data"),
		Log:  filepath.Join(dir, "registryservice.log"),
	}
	logf, err := os.Create(hp.Log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"-listen", hp.Addr, "-data", hp.Data, "-log-level", "warn"}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start registryservice: %v", err)
	}
	hp.Pid = cmd.Process.Pid
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("registryservice did not stop within 10s of SIGTERM; killing it")
			_ = cmd.Process.Kill()
			<-exited
		}
		logf.Close()
	})
	if err := WaitLeader(hp.Addr, 15*time.Second, exited); err != nil {
		b, _ := os.ReadFile(hp.Log)
		t.Fatalf("registryservice: %v\n%s", err, b)
	}
	return hp
}
