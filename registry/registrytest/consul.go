package registrytest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/internal/toolbuild"
)

// Consul is a real Consul dev agent (v1.14.8, built from tools/consul) running as a child process
// on free ports of 127.0.0.1, so that tests can run beside a developer's own agent.
type Consul struct {
	t      testing.TB
	bin    string
	dir    string
	config string
	addr   string
	logf   *os.File
	proc   *testkit.Process
}

// StartConsul starts a Consul dev agent for the test and returns its HTTP address (host:port).
// The agent is stopped at t's cleanup. See NewConsul for what happens when it cannot start.
func StartConsul(t testing.TB) string {
	t.Helper()
	return NewConsul(t).Addr()
}

// NewConsul builds the agent (at most once for a given tools/consul/go.sum and Go version; a
// cold build takes 6–7 minutes on 2 cores), starts `consul agent -dev` and waits for it to elect
// itself leader. Under CI=true any failure fails the test; otherwise the test is skipped with a
// loud message, so that a developer without a warm Go build cache is not blocked.
func NewConsul(t testing.TB) *Consul {
	t.Helper()
	bin, err := consulBinary()
	if err != nil {
		unavailable(t, "build the Consul agent", err)
	}
	dir := t.TempDir()
	ports := map[string]int{"grpc_tls": -1, "https": -1}
	names := []string{"http", "dns", "serf_lan", "serf_wan", "server", "grpc"}
	for i, port := range testkit.FreePorts(t, len(names)) {
		ports[names[i]] = port
	}
	cfg, _ := json.Marshal(map[string]any{
		"ports":                ports,
		"disable_update_check": true,
		"node_name":            "gradebook-test",
	})
	c := &Consul{
		t:      t,
		bin:    bin,
		dir:    dir,
		config: filepath.Join(dir, "config.json"),
		addr:   fmt.Sprintf("127.0.0.1:%d", ports["http"]),
	}
	if err := os.WriteFile(c.config, cfg, 0o600); err != nil {
		t.Fatalf("consul config: %v", err)
	}
	t.Cleanup(func() {
		c.stop()
		if t.Failed() {
			t.Logf("consul agent log (tail):\n%s", c.logTail())
		}
	})
	if err := c.start(); err != nil {
		unavailable(t, "start the Consul agent", fmt.Errorf("%w\n%s", err, c.logTail()))
	}
	return c
}

// Addr is the agent's HTTP address, host:port.
func (c *Consul) Addr() string { return c.addr }

// Restart stops the agent and starts it again on the same ports. A dev agent keeps nothing on
// disk, so the restarted agent has forgotten every service.
func (c *Consul) Restart() {
	c.t.Helper()
	c.stop()
	if err := c.start(); err != nil {
		c.t.Fatalf("restart consul: %v\n%s", err, c.logTail())
	}
}

func (c *Consul) start() error {
	logf, err := os.OpenFile(filepath.Join(c.dir, "consul.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.bin, "agent", "-dev", "-ui",
		"-bind", "127.0.0.1", "-client", "127.0.0.1",
		"-log-level", "warn", "-config-file", c.config)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = c.dir
	proc, err := testkit.StartProcess(cmd)
	if err != nil {
		logf.Close()
		return err
	}
	c.proc, c.logf = proc, logf
	return WaitLeader(c.addr, 30*time.Second, proc.Exited())
}

// stop sends SIGTERM, then SIGKILL if the agent has not exited after a few seconds.
func (c *Consul) stop() {
	if c.proc == nil {
		return
	}
	c.proc.Stop(5 * time.Second)
	c.logf.Close()
	c.proc = nil
}

func (c *Consul) logTail() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "consul.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// WaitLeader polls GET /v1/status/leader on addr until it answers a non-empty string, within
// the given time. It gives up early when exited (which may be nil) is closed.
func WaitLeader(addr string, within time.Duration, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("the process exited before it had a leader")
		default:
		}
		leader, err := getLeader(client, addr)
		if err == nil && leader != "" {
			return nil
		}
		last = err
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no leader at %s within %v (last error: %v)", addr, within, last)
}

func getLeader(client *http.Client, addr string) (string, error) {
	resp, err := client.Get("http://" + addr + "/v1/status/leader")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	var leader string
	if err := json.NewDecoder(resp.Body).Decode(&leader); err != nil {
		return "", err
	}
	return leader, nil
}

// unavailable fails the test under CI and skips it loudly elsewhere.
func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("could not %s (required under CI): %v", what, err)
	}
	t.Skipf("\n*** SKIPPED: could not %s: %v\n*** This test needs a real Consul agent; under CI=true it fails instead of skipping.", what, err)
}

// consulBinary returns the path of the Consul agent built from tools/consul, once per pin and
// toolchain, and kept in the user's cache directory (toolbuild.Binary). It is built static and
// with -trimpath, as .ci/run and tools/docker/standins build it, so that one cold build of
// Consul's packages serves all three.
func consulBinary() (string, error) {
	root, err := testkit.RepoRoot()
	if err != nil {
		return "", err
	}
	return toolbuild.Binary(context.Background(), root, toolbuild.Consul, nil)
}
