package registry

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/testkit"
)

func TestNewConfig(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	cases := []struct {
		name    string
		args    []string
		getenv  func(string) string
		wantErr string
		check   func(Config) bool
	}{
		{"defaults", nil, nil, "", func(c Config) bool {
			return c.Listen == DefaultListen && c.Name == "registry" && c.Data == "data/registry" && c.HeartbeatInterval == 3*time.Second
		}},
		{"flag", []string{"-heartbeat-interval", "250ms"}, nil, "", func(c Config) bool { return c.HeartbeatInterval == 250*time.Millisecond }},
		{"environment", nil, env("GRADEBOOK_HEARTBEAT_INTERVAL", "2s", "GRADEBOOK_DATA", "/x"), "", func(c Config) bool {
			return c.HeartbeatInterval == 2*time.Second && c.Data == "/x"
		}},
		{"too short", []string{"-heartbeat-interval", "10ms"}, nil, "the least is", nil},
		{"stray argument", []string{"now"}, nil, "unexpected arguments", nil},
		{"unknown flag", []string{"-frobnicate"}, nil, "frobnicate", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := NewConfig(tc.args, tc.getenv, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(cfg) {
				t.Fatalf("cfg = %+v, err = %v", cfg, err)
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	var out bytes.Buffer
	err := Run(context.Background(), []string{"-h"}, nil, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Run -h = %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(out.String(), "Consul-compatible hub") || !strings.Contains(out.String(), "-registry flag is ignored") {
		t.Errorf("usage does not say what the hub is:\n%s", out.String())
	}
}

// Run serves on port 0, says where in its log, and returns nil when its context ends.
func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testkit.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"-listen", "127.0.0.1:0", "-data", t.TempDir(), "-log-level", "warn"}, nil, logs)
	}()
	var addr string
	testkit.Eventually(t, 5*time.Second, "the serving line", func() bool {
		s := logs.String()
		i := strings.Index(s, "msg=serving listen=")
		if i < 0 {
			return false
		}
		addr = strings.Fields(s[i+len("msg=serving listen="):])[0]
		return true
	})
	// The line a launcher reads is a whole log line, with a real timestamp.
	line := logs.String()
	line = line[strings.LastIndex(line[:strings.Index(line, "msg=serving listen=")], "\n")+1:]
	if i := strings.Index(line, " ts="); i < 0 {
		t.Errorf("serving line has no ts: %q", line)
	} else if ts := strings.Fields(line[i+len(" ts="):])[0]; !strings.HasPrefix(ts, "20") || !strings.HasSuffix(ts, "Z") {
		t.Errorf("serving line's ts = %q, want an RFC 3339 UTC time: %q", ts, line)
	}
	waitHealthy(t, "http://"+addr)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
