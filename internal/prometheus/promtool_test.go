package prometheus_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/prometheus"
	"github.com/gradebook/gradebook/internal/prometheustest"
)

// promtool runs the real promtool with args in dir and returns its output, failing the test when
// it does not succeed.
func promtool(t *testing.T, bin, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestRulesPassPromtool checks the shipped rules as Prometheus's own tool does: "check rules"
// (syntax, PromQL, templates), and "test rules" with rules_test.yml, which feeds each alert the
// series it is for and expects it to fire, with its labels and annotations, and not on healthy ones.
func TestRulesPassPromtool(t *testing.T) {
	bin := prometheustest.Promtool(t) // skips loudly without CI, fails under CI=true
	t.Log(promtool(t, bin, ".", "check", "rules", prometheus.RulesFile))
	t.Log(promtool(t, bin, ".", "test", "rules", "rules_test.yml"))
}

// TestConfigPassesPromtool checks the configuration WriteConfig writes, with a token and without,
// with "promtool check config", which also checks the rules file it names; and that the compose
// configuration and rules pass as they are in the tree.
func TestConfigPassesPromtool(t *testing.T) {
	bin := prometheustest.Promtool(t)
	for _, token := range []string{"", "9e6f8a4c-2b1d-4c7e-8f3a-5d2c1b0a9e8f"} {
		dir := t.TempDir()
		path, err := prometheus.WriteConfig(dir, "127.0.0.1:8500", token, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		out := promtool(t, bin, dir, "check", "config", path)
		if !strings.Contains(out, "SUCCESS: 1 rule files found") {
			t.Errorf("promtool check config does not find the rules file:\n%s", out)
		}
		if token != "" && strings.Contains(out, token) {
			t.Errorf("promtool printed the token:\n%s", out)
		}
	}
	compose := filepath.Join("..", "..", "tools", "docker", "prometheus")
	if _, err := os.Stat(compose); err != nil {
		t.Fatal(err)
	}
	promtool(t, bin, compose, "check", "config", "prometheus.yml")
}
