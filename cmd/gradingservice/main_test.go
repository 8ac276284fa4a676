package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/gradingclient"
	"github.com/gradebook/gradebook/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testkit.LeakOptions()...) }

// servingLine is the runtime's log line once it serves; it names the address it is bound to.
var servingLine = regexp.MustCompile(`msg=serving listen=(\S+)`)

// start runs the built binary on a port the kernel picks, waits until /health passes, and
// returns the process and the address it is bound to. The output goes to out, and into the log
// of a failed test.
func start(t *testing.T, bin, data, registry string, out *testkit.Buffer) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-grpc-listen", "127.0.0.1:0", "-data", data, "-registry", registry)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("gradingservice output:\n%s", out.String())
		}
	})
	var addr string
	testkit.Eventually(t, 15*time.Second, "gradingservice never logged where it serves", func() bool {
		m := servingLine.FindStringSubmatch(out.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	})
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	testkit.Eventually(t, 15*time.Second, "gradingservice never became healthy", func() bool {
		resp, err := client.Get("http://" + addr + "/health")
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return cmd, addr
}

// TestAcknowledgedGradesSurviveSIGKILL is the durability promise in the README: every grade
// answered with 201 is on disk, even when the process is killed with no chance to clean up.
func TestAcknowledgedGradesSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	bin := testkit.BuildCommand(t, "github.com/gradebook/gradebook/cmd/gradingservice")
	// The binary's own main path: -h prints the usage and exits 0.
	if out, err := exec.Command(bin, "-h").CombinedOutput(); err != nil || !strings.Contains(string(out), "-grpc-listen") {
		t.Errorf("gradingservice -h: %v\n%s", err, out)
	}

	data := filepath.Join(t.TempDir(), "data")
	// Nothing listens at the registry: registration keeps retrying in the background, which
	// must not stop the service from serving.
	registry := fmt.Sprintf("http://127.0.0.1:%d", testkit.FreePort(t))
	var out testkit.Buffer
	cmd, addr := start(t, bin, data, registry, &out)

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

	// The restarted process binds a port of its own; only the data directory is the same.
	var again testkit.Buffer
	_, addr = start(t, bin, data, registry, &again)
	if eps, err = gradingclient.MakeHTTPClientEndpoints(addr, client); err != nil {
		t.Fatal(err)
	}
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
}
