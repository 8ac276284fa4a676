package registrytest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// StartHubProcess builds cmd/registryservice into a temp dir, starts it on a port of 127.0.0.1
// that the kernel picks, with a fresh -data, and waits for /v1/status/leader. args are extra
// flags. It is stopped at t's cleanup with SIGTERM (SIGKILL after 10 s).
func StartHubProcess(t testing.TB, args ...string) *HubProcess {
	t.Helper()
	bin := testkit.BuildCommand(t, "github.com/gradebook/gradebook/cmd/registryservice")
	dir := t.TempDir()
	hp := &HubProcess{
		Data: filepath.Join(dir, "data"),
		Log:  filepath.Join(dir, "registryservice.log"),
	}
	logf, err := os.Create(hp.Log)
	if err != nil {
		t.Fatal(err)
	}
	// With -listen 127.0.0.1:0 the hub binds a free port itself and names it in its "serving"
	// line, which it writes whatever the log level: no port is reserved, released and then
	// perhaps taken by another test binary before the hub binds it.
	cmd := exec.Command(bin, append([]string{"-listen", "127.0.0.1:0", "-data", hp.Data, "-log-level", "warn"}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	proc, err := testkit.StartProcess(cmd)
	if err != nil {
		logf.Close()
		t.Fatalf("start registryservice: %v", err)
	}
	hp.Pid = proc.Pid()
	exited := proc.Exited()
	t.Cleanup(func() {
		if proc.Stop(10 * time.Second) {
			t.Errorf("registryservice did not stop within 10s of SIGTERM; it was killed")
		}
		logf.Close()
	})
	hp.Addr, err = waitServing(hp.Log, 15*time.Second, exited)
	if err == nil {
		err = WaitLeader(hp.Addr, 15*time.Second, exited)
	}
	if err != nil {
		b, _ := os.ReadFile(hp.Log)
		t.Fatalf("registryservice: %v\n%s", err, b)
	}
	return hp
}

// waitServing polls the hub's log file for its "msg=serving listen=<addr>" line and returns the
// address. It gives up after within, or when exited is closed.
func waitServing(logFile string, within time.Duration, exited <-chan struct{}) (string, error) {
	// The space after the address: a line read while it is being written must not give half of it.
	line := regexp.MustCompile(`msg=serving listen=(\S+)\s`)
	deadline := time.Now().Add(within)
	for {
		b, err := os.ReadFile(logFile)
		if err != nil {
			return "", err
		}
		if m := line.FindSubmatch(b); m != nil {
			return string(m[1]), nil
		}
		select {
		case <-exited:
			return "", errors.New("the process exited before it was serving")
		default:
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no serving line in its log within %v", within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
