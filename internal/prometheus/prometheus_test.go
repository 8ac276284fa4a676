package prometheus

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfigDiscoversThroughTheRegistry: the configuration asks the registry it is given, drops
// gRPC instances and Consul's own entry, names each series' service, and keeps the scrape timeout
// within the interval.
func TestConfigDiscoversThroughTheRegistry(t *testing.T) {
	cfg := string(Config("127.0.0.2:3100", "", 2*time.Second))
	for _, want := range []string{`server: "127.0.0.2:3100"`, "refresh_interval: 2s", "scrape_interval: 2s", "scrape_timeout: 2s",
		"regex: .*,grpc,.*", "regex: consul", "target_label: service", "target_label: instance", "rule_files:\n  - rules.yml\n"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("the configuration lacks %s:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "token") {
		t.Errorf("no token given, but the configuration has one:\n%s", cfg)
	}
	if cfg := string(Config("h:1", "", time.Minute)); !strings.Contains(cfg, "scrape_timeout: 10s") || !strings.Contains(cfg, "scrape_interval: 1m") {
		t.Errorf("a 1m interval: want scrape_timeout 10s and scrape_interval 1m:\n%s", cfg)
	}
}

// TestServer: a registry URL becomes the host:port consul_sd_configs takes.
func TestServer(t *testing.T) {
	for in, want := range map[string]string{"http://127.0.0.1:3000": "127.0.0.1:3000", "127.0.0.1:8500": "127.0.0.1:8500", "http://consul:8500/": "consul:8500"} {
		if got, err := Server(in); err != nil || got != want {
			t.Errorf("Server(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"https://127.0.0.1:8501", "not a url"} {
		if got, err := Server(in); err == nil {
			t.Errorf("Server(%q) = %q, want an error", in, got)
		}
	}
}

// TestModelDuration: durations are written as Prometheus reads them.
func TestModelDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{5 * time.Second: "5s", 1500 * time.Millisecond: "1500ms", 2 * time.Minute: "2m", 0: "1ms"} {
		if got := model(d); got != want {
			t.Errorf("model(%s) = %s, want %s", d, got, want)
		}
	}
}

// TestComposeConfig: the configuration and rules compose mounts are Config against the Consul
// agent and Rules, so that compose and the launcher scrape and alert the same way.
func TestComposeConfig(t *testing.T) {
	dir := filepath.Join("..", "..", "tools", "docker", "prometheus")
	b, err := os.ReadFile(filepath.Join(dir, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := string(Config("consul:8500", "", 5*time.Second)); !strings.HasSuffix(string(b), want) {
		t.Errorf("tools/docker/prometheus/prometheus.yml does not end with Config(\"consul:8500\", \"\", 5s):\n%s\nwant it to end with:\n%s", b, want)
	}
	rules, err := os.ReadFile(filepath.Join(dir, RulesFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rules, Rules) {
		t.Errorf("tools/docker/prometheus/%s differs from internal/prometheus/%s: copy it over", RulesFile, RulesFile)
	}
}

// TestConfigToken: a token goes into the Consul discovery's settings, quoted, and the file
// WriteConfig writes is readable by its owner only; the rules are written beside it.
func TestConfigToken(t *testing.T) {
	const token = "9e6f8a4c-2b1d-4c7e-8f3a-5d2c1b0a9e8f"
	cfg := string(Config("127.0.0.1:8500", token, 5*time.Second))
	if !strings.Contains(cfg, "      - server: \"127.0.0.1:8500\"\n        token: \""+token+"\"\n        refresh_interval: 5s\n") {
		t.Errorf("the token is not in consul_sd_configs:\n%s", cfg)
	}
	dir := t.TempDir()
	path, err := WriteConfig(dir, "127.0.0.1:8500", token, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600: it holds a token", path, fi.Mode().Perm())
	}
	if b, err := os.ReadFile(filepath.Join(dir, RulesFile)); err != nil || !bytes.Equal(b, Rules) {
		t.Errorf("%s beside the configuration: %v, equal to Rules: %v", RulesFile, err, bytes.Equal(b, Rules))
	}
}
