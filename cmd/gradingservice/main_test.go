package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingclient"
	"github.com/gradebook/gradebook/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testkit.LeakOptions()...) }

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// lockedBuffer collects a child's output for the failure message.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs the built binary and waits until /health passes.
func start(t *testing.T, bin, addr, data, registry string, out *lockedBuffer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "-listen", addr, "-grpc-listen", "127.0.0.1:0", "-data", data, "-registry", registry)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := client.Get("http://" + addr + "/health"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("gradingservice never became healthy:\n%s", out.String())
	return nil
}

// TestAcknowledgedGradesSurviveSIGKILL is the durability promise in the README: every grade
// answered with 201 is on disk, even when the process is killed with no chance to clean up.
func TestAcknowledgedGradesSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "gradingservice")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// The binary's own main path: -h prints the usage and exits 0.
	if out, err := exec.Command(bin, "-h").CombinedOutput(); err != nil || !strings.Contains(string(out), "-grpc-listen") {
		t.Errorf("gradingservice -h: %v\n%s", err, out)
	}

	addr, data := freeAddr(t), filepath.Join(dir, "data")
	// Nothing listens at the registry: registration keeps retrying in the background, which
	// must not stop the service from serving.
	registry := "http://" + freeAddr(t)
	var out lockedBuffer
	cmd := start(t, bin, addr, data, registry, &out)

	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	eps, err := gradingclient.MakeHTTPClientEndpoints(addr, client)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const n = 40
	var acked []grading.Grade
	for i := range n {
		g := grading.Grade{Title: fmt.Sprintf("Durable %d", i), Type: grading.TypeQuiz, Score: float64(i % 101)}
		got, err := eps.AddGrade(ctx, 1+i%5, g, fmt.Sprintf("durable-%d", i))
		if err != nil {
			t.Fatalf("grade %d: %v", i, err)
		}
		acked = append(acked, got)
	}
	// Right after the last 201: no shutdown, no flush, no deferred close.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	start(t, bin, addr, data, registry, &out)
	students, err := eps.ListStudents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, st := range students {
		for _, g := range st.Grades {
			have[fmt.Sprintf("%d/%s/%g", st.ID, g.Title, g.Score)] = true
		}
	}
	for i, g := range acked {
		if !have[fmt.Sprintf("%d/%s/%g", 1+i%5, g.Title, g.Score)] {
			t.Errorf("acknowledged grade %d (%+v) is gone after SIGKILL", i, g)
		}
	}
	if len(students) != 5 {
		t.Errorf("%d students after restart, want the 5 demo students and no re-seeding", len(students))
	}
	// A repeat of an acknowledged post is still recognised after the crash.
	if _, err := eps.AddGrade(ctx, 1, acked[0], "durable-0"); err != nil {
		t.Errorf("repeat after restart: %v", err)
	}
	if st, _ := eps.GetStudent(ctx, 1); len(st.Grades) != 3+n/5 {
		t.Errorf("student 1 has %d grades, want %d", len(st.Grades), 3+n/5)
	}
	if t.Failed() {
		t.Logf("service output:\n%s", out.String())
	}
}
