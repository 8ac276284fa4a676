// Package toolbuild builds a program pinned as a Go tool under tools/<name> of the gradebook
// source tree (Consul, Jaeger, Prometheus) and keeps the binary in the user's cache directory, so that it
// is built once per pin and toolchain and again only when either changes. It never starts the
// program it builds; WaitReady waits for one that its caller started.
package toolbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
)

// Flags are how a tool is built: static and with -trimpath, as .ci/run and tools/docker/standins
// build it, so that one cold build of the tool's packages (minutes) serves all three and the
// others only link.
const Flags = "CGO_ENABLED=0 -trimpath"

// Tool names a program pinned in tools/<Dir>/go.mod.
type Tool struct {
	Name    string // the binary's name and the cache directory's prefix, e.g. "jaeger"
	Title   string // how errors name it, e.g. "Jaeger"
	Dir     string // the pin's directory under tools/, e.g. "jaeger"
	Package string // the import path of its main package in the pinned module
}

// Consul is the agent pinned in tools/consul: the tests' real Consul, and gradebook consul's.
var Consul = Tool{Name: "consul", Title: "Consul", Dir: "consul", Package: "github.com/hashicorp/consul"}

// Binary returns the path of t built from its pin under root (the gradebook source tree). The
// binary is kept in the user's cache directory under a key made of the pin's go.mod and go.sum,
// the Go version and Flags. A file lock keeps processes that start together from building it
// twice. The go command's output goes to progress, which may be nil.
func Binary(ctx context.Context, root string, t Tool, progress io.Writer) (string, error) {
	mod := filepath.Join(root, "tools", t.Dir, "go.mod")
	h := sha256.New()
	for _, f := range []string{mod, filepath.Join(root, "tools", t.Dir, "go.sum")} {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("the %s pin: %w (run this from the gradebook source tree)", t.Title, err)
		}
		h.Write(b)
	}
	h.Write([]byte(runtime.Version() + runtime.GOOS + runtime.GOARCH + Flags))
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "gradebook", t.Name+"-"+hex.EncodeToString(h.Sum(nil))[:16])
	bin := filepath.Join(dir, t.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o100 != 0 {
		return bin, nil
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("building %s needs the go command on the PATH: %w", t.Title, err)
	}
	tmp := bin + ".tmp"
	cmd := exec.CommandContext(ctx, goTool, "build", "-trimpath", "-modfile="+mod, "-o", tmp, t.Package)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	var out bytes.Buffer
	w := io.Writer(&out)
	if progress != nil {
		w = io.MultiWriter(&out, progress)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", t.Package, err, out.String())
	}
	// Rename is atomic, so no one ever runs a half-written binary.
	return bin, os.Rename(tmp, bin)
}

// WaitReady polls ready every 50 ms until it answers nil, and fails as soon as exited is closed
// (the program died before it was ready) or ctx ends. where names the program's address in the
// error, with ready's last answer.
func (t Tool) WaitReady(ctx context.Context, where string, exited <-chan struct{}, ready func() error) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited before it was ready", t.Name)
		case <-ctx.Done():
			return fmt.Errorf("%s at %s not ready: %w (last: %v)", t.Name, where, ctx.Err(), err)
		case <-tick.C:
		}
	}
}
