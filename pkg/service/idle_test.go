package service_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/testkit"
)

// idleWindow is how long the services sit idle, after all of them serve, while their memory is
// sampled: long enough for the registry's health checks to make garbage and the collectors to run.
const idleWindow = 60 * time.Second

// BenchmarkIdleRSS starts the four services as processes of their own, as users run them: the
// registry, then the log service, grading and the portal registered with it, with default flags
// otherwise. Once all serve, it samples each one's resident memory from /proc every 250 ms for
// idleWindow and reports the largest, in MB, with how much of it was anonymous (heap, stacks,
// the runtime's own) rather than the mapped binary. "commands" runs the per-service commands
// (cmd/registryservice...), "gradebook" the one binary's service commands (gradebook registry...)
// as gradebook up does. GRADEBOOK_BENCH_BINDIR names a directory of binaries built already
// (registryservice, logservice, gradingservice, teacherportalservice, gradebook), so that two
// builds can be compared in one interleaved run. Run it with -benchtime 1x.
func BenchmarkIdleRSS(b *testing.B) {
	for _, mode := range []string{"commands", "gradebook"} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				idleRSS(b, mode)
			}
		})
	}
}

var idleServices = []struct{ name, command string }{
	{"registry", "registryservice"},
	{"log", "logservice"},
	{"grading", "gradingservice"},
	{"portal", "teacherportalservice"},
}

func idleRSS(b *testing.B, mode string) {
	dir := b.TempDir()
	binary := func(command string) string {
		if d := os.Getenv("GRADEBOOK_BENCH_BINDIR"); d != "" {
			return filepath.Join(d, command)
		}
		return testkit.BuildCommand(b, "github.com/gradebook/gradebook/cmd/"+command)
	}
	var gradebook string
	if mode == "gradebook" {
		gradebook = binary("gradebook")
	}
	registry := ""
	pids := map[string]int{}
	for _, svc := range idleServices {
		args := []string{"-listen", "127.0.0.1:0", "-data", filepath.Join(dir, svc.name)}
		if registry != "" {
			args = append(args, "-registry", registry)
		}
		if svc.name == "grading" {
			args = append(args, "-grpc-listen", "127.0.0.1:0")
		}
		var cmd *exec.Cmd
		if gradebook != "" {
			cmd = exec.Command(gradebook, append([]string{svc.name}, args...)...)
		} else {
			cmd = exec.Command(binary(svc.command), args...)
		}
		addr, pid := startIdleService(b, cmd, filepath.Join(dir, svc.name+".stderr"))
		if svc.name == "registry" {
			registry = "http://" + addr
		}
		pids[svc.name] = pid
	}
	maxRSS := map[string]int{}
	anonAtMax := map[string]int{}
	for end := time.Now().Add(idleWindow); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		for name, pid := range pids {
			rss, anon := residentKB(b, pid)
			if rss > maxRSS[name] {
				maxRSS[name], anonAtMax[name] = rss, anon
			}
		}
	}
	var line []string
	for _, svc := range idleServices {
		mb := func(kb int) float64 { return float64(kb) / 1024 }
		b.ReportMetric(mb(maxRSS[svc.name]), svc.name+"-MB")
		b.ReportMetric(mb(anonAtMax[svc.name]), svc.name+"-anon-MB")
		line = append(line, fmt.Sprintf("%s %.1f MB (anonymous %.1f)", svc.name, mb(maxRSS[svc.name]), mb(anonAtMax[svc.name])))
	}
	b.Logf("figure: idle RSS, largest over %v (%s): %s", idleWindow, mode, strings.Join(line, ", "))
}

// startIdleService starts cmd with its output in the file stderrPath, waits for its serving line,
// and stops it at b's cleanup.
func startIdleService(b *testing.B, cmd *exec.Cmd, stderrPath string) (addr string, pid int) {
	b.Helper()
	out, err := os.Create(stderrPath)
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	proc, err := testkit.StartProcess(cmd)
	if err != nil {
		out.Close()
		b.Fatalf("start %s: %v", cmd.Path, err)
	}
	b.Cleanup(func() {
		if proc.Stop(10 * time.Second) {
			b.Errorf("%s did not stop within 10s of SIGTERM; it was killed", cmd.Args)
		}
		out.Close()
	})
	serving := regexp.MustCompile(`msg=serving listen=(\S+)\s`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		text, _ := os.ReadFile(stderrPath)
		if m := serving.FindSubmatch(text); m != nil {
			return string(m[1]), proc.Pid()
		}
		select {
		case <-proc.Exited():
			b.Fatalf("%s exited before serving:\n%s", cmd.Args, text)
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s: no serving line within 30s:\n%s", cmd.Args, text)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// residentKB reads a process's resident memory and the anonymous part of it, in kB, from
// /proc/<pid>/status (VmRSS, RssAnon).
func residentKB(b *testing.B, pid int) (rss, anon int) {
	b.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		switch k {
		case "VmRSS":
			rss = n
		case "RssAnon":
			anon = n
		}
	}
	return rss, anon
}
