package prometheus

import (
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
	cfg := string(Config("127.0.0.2:3100", 2*time.Second))
	for _, want := range []string{`server: "127.0.0.2:3100"`, "refresh_interval: 2s", "scrape_interval: 2s", "scrape_timeout: 2s",
		"regex: .*,grpc,.*", "regex: consul", "target_label: service", "target_label: instance"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("the configuration lacks %s:\n%s", want, cfg)
		}
	}
	if cfg := string(Config("h:1", time.Minute)); !strings.Contains(cfg, "scrape_timeout: 10s") || !strings.Contains(cfg, "scrape_interval: 1m") {
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

// TestComposeConfig: the configuration compose mounts is Config against the Consul agent, so that
// compose and the launcher scrape the same way.
func TestComposeConfig(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "tools", "docker", "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := string(Config("consul:8500", 5*time.Second)); !strings.HasSuffix(string(b), want) {
		t.Errorf("tools/docker/prometheus/prometheus.yml does not end with Config(\"consul:8500\", 5s):\n%s\nwant it to end with:\n%s", b, want)
	}
}
