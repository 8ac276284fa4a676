package jaeger

import (
	"strings"
	"testing"
)

// TestConfigListensOnlyWhereTold: the configuration names the four addresses it is given and no
// other, so that Jaeger opens none of its built-in defaults (sampling, Zipkin, legacy receivers,
// health, expvar, zpages, metrics), and keeps traces in memory, bounded.
func TestConfigListensOnlyWhereTold(t *testing.T) {
	a := DefaultAddrs("127.0.0.2").Offset(1000)
	cfg := string(Config(a, 500, "warn", "/var/lib/gradebook/jaeger/ui"))
	for _, want := range []string{`"127.0.0.2:17686"`, `"127.0.0.2:17685"`, `"127.0.0.2:5317"`, `"127.0.0.2:5318"`,
		"max_traces: 500", "level: warn", `assets_path: "/var/lib/gradebook/jaeger/ui"`, "level: none", "enable_tracing: false"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("the configuration lacks %s:\n%s", want, cfg)
		}
	}
	if n := strings.Count(cfg, "endpoint:"); n != 4 {
		t.Errorf("the configuration opens %d endpoints, want 4:\n%s", n, cfg)
	}
	for _, other := range []string{"zipkin", "remote_sampling", "healthcheck", "expvar", "zpages", "prometheus", "localhost"} {
		if strings.Contains(cfg, other) {
			t.Errorf("the configuration mentions %s:\n%s", other, cfg)
		}
	}
	if got, want := a.OTLPHTTPEndpoint(), "http://127.0.0.2:5318"; got != want {
		t.Errorf("OTLPHTTPEndpoint = %s, want %s", got, want)
	}
	if got, want := a.UIURL(), "http://127.0.0.2:17686"; got != want {
		t.Errorf("UIURL = %s, want %s", got, want)
	}
	if n := len(a.Listens()); n != 4 {
		t.Errorf("Listens names %d addresses, want 4", n)
	}
}
