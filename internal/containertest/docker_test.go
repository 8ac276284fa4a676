package containertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/testkit"
)

// requireDocker skips the test unless container tests were asked for, and then needs a Docker
// engine that answers.
func requireDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("container tests build images and start containers")
	}
	if os.Getenv("GRADEBOOK_CONTAINER_TESTS") != "1" {
		t.Skip("\n*** SKIPPED: container tests run only with GRADEBOOK_CONTAINER_TESTS=1 (they build images and start containers on this machine's Docker engine); .ci/run runs them in their own step.")
	}
	if out, err := docker(t, 30*time.Second, "info", "--format", "{{.ServerVersion}}"); err != nil {
		unavailable(t, "reach a Docker engine (is dockerd running?)", fmt.Errorf("%w: %s", err, out))
	}
}

// requireImages makes sure the images the compose file and the Dockerfile start from are present:
// it pulls the missing ones, which fails where no registry is reachable; there
// tools/docker/standins builds local stand-ins under the same names.
func requireImages(t *testing.T, images ...string) {
	t.Helper()
	for _, img := range images {
		if _, err := docker(t, 30*time.Second, "image", "inspect", img); err == nil {
			continue
		}
		if out, err := docker(t, 5*time.Minute, "pull", img); err != nil {
			unavailable(t, "find or pull "+img+" (where no registry is reachable, run tools/docker/standins)",
				fmt.Errorf("%w: %s", err, out))
		}
	}
}

// unavailable fails the test under CI and skips it loudly elsewhere.
func unavailable(t *testing.T, what string, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("could not %s (required under CI): %v", what, err)
	}
	t.Skipf("\n*** SKIPPED: could not %s: %v\n*** Under CI=true this fails instead of skipping.", what, err)
}

// docker runs the docker command line and returns its combined output.
func docker(t testing.TB, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	return command(timeout, "", nil, "docker", args...)
}

// command runs name with args in dir (the working directory when empty), with env added to this
// process's environment, and returns its combined output. A command still running after timeout
// is killed, and the error says so.
func command(timeout time.Duration, dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: still running after %v: %w", name, strings.Join(args, " "), timeout, ctx.Err())
	}
	return out.String(), err
}

// composeTool is one implementation of the compose command line.
type composeTool struct {
	name string   // for the log and the subtest: "docker compose 2.40.3"
	argv []string // the command in front of compose's own arguments
}

// composeTools finds the compose implementations on this machine: Compose v2 as a docker CLI
// plugin and the standalone docker-compose (Debian's is 1.29). GRADEBOOK_COMPOSE picks one of
// them ("docker compose" or "docker-compose").
func composeTools(t *testing.T) []composeTool {
	t.Helper()
	var tools []composeTool
	versions := map[string]bool{}
	for _, argv := range [][]string{{"docker", "compose"}, {"docker-compose"}} {
		joined := strings.Join(argv, " ")
		if only := os.Getenv("GRADEBOOK_COMPOSE"); only != "" && only != joined {
			continue
		}
		out, err := command(30*time.Second, "", nil, argv[0], append(argv[1:], "version", "--short")...)
		version := strings.TrimSpace(out)
		if err != nil || version == "" || strings.Contains(version, "\n") {
			t.Logf("%s is not available: %v %s", joined, err, out)
			continue
		}
		if versions[version] {
			t.Logf("%s is compose %s again: run once", joined, version)
			continue
		}
		versions[version] = true
		tools = append(tools, composeTool{name: joined + " " + version, argv: argv})
	}
	if len(tools) == 0 {
		unavailable(t, "find docker compose (v2) or docker-compose", errors.New("neither answers \"version\""))
	}
	return tools
}

// project is one compose project: a compose file run under its own project name, with its own
// environment (published ports, image tag, build arguments).
type project struct {
	t    *testing.T
	tool composeTool
	root string // the folder of the compose file and the build context
	file string
	name string
	env  []string
}

// newProject names a project after the test and this process, and removes everything it made
// (containers, networks, named and anonymous volumes) when the test ends; if the test failed, it
// first logs the services' last lines.
func newProject(t *testing.T, tool composeTool, file string, env ...string) *project {
	t.Helper()
	root, err := testkit.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("gbtest%d%s", os.Getpid(), strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, strings.ToLower(tool.name)))
	p := &project{t: t, tool: tool, root: root, file: file, name: name, env: env}
	t.Cleanup(func() {
		if out, err := p.try(3*time.Minute, "down", "-v", "--remove-orphans", "--timeout", "5"); err != nil {
			t.Errorf("clean up: down -v: %v\n%s", err, out)
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := p.try(time.Minute, "ps", "-a")
			logs, _ := p.try(time.Minute, "logs", "--no-color", "--tail", "60")
			t.Logf("compose ps:\n%s\ncompose logs (tail):\n%s", out, logs)
		}
	})
	return p
}

// try runs one compose command of the project and returns its output.
func (p *project) try(timeout time.Duration, args ...string) (string, error) {
	argv := append(append([]string{}, p.tool.argv[1:]...), "--ansi", "never", "-f", p.file, "-p", p.name)
	return command(timeout, p.root, p.env, p.tool.argv[0], append(argv, args...)...)
}

// compose runs one compose command of the project and fails the test if it fails.
func (p *project) compose(timeout time.Duration, args ...string) string {
	p.t.Helper()
	start := time.Now()
	out, err := p.try(timeout, args...)
	if err != nil {
		p.t.Fatalf("%s %s: %v\n%s", p.tool.name, strings.Join(args, " "), err, out)
	}
	p.t.Logf("%s %s: done in %v", p.tool.name, strings.Join(args, " "), time.Since(start).Round(10*time.Millisecond))
	return out
}

// resources lists what Docker holds with this project's label: containers (stopped ones too),
// networks and volumes, one "kind name" per entry.
func (p *project) resources() []string {
	p.t.Helper()
	label := "label=com.docker.compose.project=" + p.name
	var found []string
	for _, kind := range [][]string{
		{"container", "ps", "-a", "--filter", label, "--format", "{{.Names}}"},
		{"network", "network", "ls", "--filter", label, "--format", "{{.Name}}"},
		{"volume", "volume", "ls", "--filter", label, "--format", "{{.Name}}"},
	} {
		out, err := docker(p.t, 30*time.Second, kind[1:]...)
		if err != nil {
			p.t.Fatalf("docker %s: %v\n%s", strings.Join(kind[1:], " "), err, out)
		}
		for _, n := range strings.Fields(out) {
			found = append(found, kind[0]+" "+n)
		}
	}
	return found
}

// volumesInUse lists the volumes, named or anonymous, mounted in the project's containers.
func (p *project) volumesInUse() []string {
	p.t.Helper()
	out, err := docker(p.t, 30*time.Second, "ps", "-a", "-q", "--filter", "label=com.docker.compose.project="+p.name)
	if err != nil {
		p.t.Fatalf("docker ps: %v\n%s", err, out)
	}
	ids := strings.Fields(out)
	if len(ids) == 0 {
		return nil
	}
	out, err = docker(p.t, 30*time.Second, append([]string{"inspect", "--format",
		`{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}`}, ids...)...)
	if err != nil {
		p.t.Fatalf("docker inspect: %v\n%s", err, out)
	}
	return strings.Fields(out)
}
