package config

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParsePrecedence(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		registry string
		token    string
		listen   string
	}{
		{"defaults", nil, nil, DefaultRegistry, "", "127.0.0.1:6000"},
		{"consul variables", map[string]string{"CONSUL_HTTP_ADDR": "127.0.0.1:8500", "CONSUL_HTTP_TOKEN": "ct"}, nil, "http://127.0.0.1:8500", "ct", "127.0.0.1:6000"},
		{"gradebook variables beat consul ones", map[string]string{"CONSUL_HTTP_ADDR": "127.0.0.1:8500", "GRADEBOOK_REGISTRY": "http://10.0.0.1:3000", "GRADEBOOK_LISTEN": "127.0.0.1:7000"}, nil, "http://10.0.0.1:3000", "", "127.0.0.1:7000"},
		{"flags beat variables", map[string]string{"GRADEBOOK_LISTEN": "127.0.0.1:7000", "GRADEBOOK_TOKEN": "env"}, []string{"-listen", "127.0.0.1:8000", "-token", "flag"}, DefaultRegistry, "flag", "127.0.0.1:8000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("x", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var c Common
			c.Bind(fs, Defaults{Listen: "127.0.0.1:6000", Name: "grading", Data: "data/grading"})
			if err := Parse(fs, tt.args, func(k string) string { return tt.env[k] }); err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if c.Registry != tt.registry || c.Token != tt.token || c.Listen != tt.listen {
				t.Errorf("got registry=%q token=%q listen=%q", c.Registry, c.Token, c.Listen)
			}
			if c.Advertise != c.Listen {
				t.Errorf("advertise %q should default to listen %q", c.Advertise, c.Listen)
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	if got := EnvName("grading-transport"); got != "GRADEBOOK_GRADING_TRANSPORT" {
		t.Errorf("EnvName = %q", got)
	}
}

func TestBadEnvValueIsNamed(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c Common
	c.Bind(fs, Defaults{Listen: "127.0.0.1:1", Name: "n"})
	err := Parse(fs, nil, func(k string) string {
		if k == "GRADEBOOK_CHECK_INTERVAL" {
			return "soon"
		}
		return ""
	})
	if err == nil || !contains(err.Error(), "GRADEBOOK_CHECK_INTERVAL") {
		t.Fatalf("want an error naming the variable, got %v", err)
	}
}

func TestValidate(t *testing.T) {
	ok := Common{Listen: "127.0.0.1:1", Registry: "127.0.0.1:3000", Name: "x", LogLevel: "info", CheckInterval: time.Second}
	bad := []func(*Common){
		func(c *Common) { c.Listen = "nope" },
		func(c *Common) { c.Registry = "ftp://x" },
		func(c *Common) { c.Name = " " },
		func(c *Common) { c.LogLevel = "loud" },
		func(c *Common) { c.CheckInterval = time.Millisecond },
		func(c *Common) { c.ReadTimeout = -time.Second },
		func(c *Common) { c.ReadTimeout = time.Millisecond },
		func(c *Common) { c.MaxConns = -1 },
	}
	c := ok
	if err := c.Validate(); err != nil || c.Registry != "http://127.0.0.1:3000" {
		t.Fatalf("valid config rejected or registry not normalized: %v %q", err, c.Registry)
	}
	// Zero values work: a Common built in code, without flags, gets the slow-client bounds too.
	if c.ReadTimeout != DefaultReadTimeout || c.MaxConns != DefaultMaxConns {
		t.Errorf("zero bounds became read timeout %v and max conns %d, want the defaults", c.ReadTimeout, c.MaxConns)
	}
	for i, mutate := range bad {
		c := ok
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("case %d: invalid config accepted", i)
		}
	}
}

// TestSlowClientFlags: -read-timeout and -max-conns are common flags, set by flag or variable.
func TestSlowClientFlags(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c Common
	c.Bind(fs, Defaults{Listen: "127.0.0.1:1", Name: "n"})
	env := map[string]string{"GRADEBOOK_MAX_CONNS": "500"}
	if err := Parse(fs, []string{"-read-timeout", "2s"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.ReadTimeout != 2*time.Second || c.MaxConns != 500 {
		t.Errorf("got read timeout %v and max conns %d, want 2s and 500", c.ReadTimeout, c.MaxConns)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
