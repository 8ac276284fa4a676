package testkit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreePorts returns n different TCP ports on 127.0.0.1 that were free a moment ago. Unlike n
// calls of FreePort, which each let its port go before the next call, it holds every port until
// it has all n, so the kernel cannot hand the same one out twice: a program given two equal
// ports (Consul's serf and gRPC ports, say) fails to start.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// Eventually polls cond every few milliseconds until it holds or within has passed, and returns
// how long it took; it fails the test with msg when the deadline passes.
func Eventually(t testing.TB, within time.Duration, msg string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	for {
		if cond() {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", msg, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Until polls f every few milliseconds until it returns "" or within has passed, and returns how
// long it took. f answers why it is not done yet; when the deadline passes, the test fails with
// f's last answer, which says more than a fixed message can.
func Until(t testing.TB, within time.Duration, f func() string) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	for {
		why := f()
		if why == "" {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Percentile is the p-th percentile (nearest rank) of ds; p=100 is the maximum.
func Percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (p*len(s) + 99) / 100 // ceil(p/100 · n)
	return s[max(rank, 1)-1]
}

// BuildCommand builds the main package pkg (an import path of this module) into a temp dir of
// the test and returns the binary's path. Go's build cache makes a repeat take a second or two.
func BuildCommand(t testing.TB, pkg string) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out.String())
	}
	return bin
}

// RepoRoot walks up from the working directory to the directory holding the module's go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/gradebook/gradebook\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod of github.com/gradebook/gradebook not found above the working directory")
		}
		dir = parent
	}
}

// Buffer is a bytes.Buffer safe for concurrent use: a service's stderr written by its goroutines
// while a test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// ServingAddr waits until a service that logs to stderr has written its "msg=serving" line, and
// answers the address it names (listen=host:port): the way to learn the port of a service
// started with -listen 127.0.0.1:0. It fails the test if no such line comes within the time.
func ServingAddr(t testing.TB, stderr *Buffer, within time.Duration) string {
	t.Helper()
	var addr string
	Eventually(t, within, "the service's msg=serving line", func() bool {
		for _, line := range strings.Split(stderr.String(), "\n") {
			if !strings.Contains(line, "msg=serving") {
				continue
			}
			for _, field := range strings.Fields(line) {
				if v, ok := strings.CutPrefix(field, "listen="); ok {
					addr = v
					return true
				}
			}
		}
		return false
	})
	return addr
}

// RunFunc is the shape of every service's Run.
type RunFunc func(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error

// StartRun runs a service's Run in this process with args (which should listen on a port of its
// choosing, -listen 127.0.0.1:0) until stop is called, waits until it logs the address it serves
// on and its /health passes, and returns that address and its stderr. stop ends Run and fails the
// test if Run returned an error or did not return within 15 s.
func StartRun(t testing.TB, run RunFunc, args []string, getenv func(string) string) (addr string, stderr *Buffer, stop func()) {
	t.Helper()
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	stderr = &Buffer{}
	go func() { done <- run(ctx, args, getenv, stderr) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("Run did not return within 15s of its context ending")
			}
		})
	}
	addr = ServingAddr(t, stderr, 10*time.Second)
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	Eventually(t, 10*time.Second, "/health passing at "+addr, func() bool {
		resp, err := client.Get("http://" + addr + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return addr, stderr, stop
}
