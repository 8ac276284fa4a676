// Package config reads the flags every gradebook service shares, with GRADEBOOK_* environment
// variables as their defaults and the standard CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN honoured
// too. It only parses; it never opens a socket or a file.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// DefaultRegistry is the built-in hub's address.
const DefaultRegistry = "http://127.0.0.1:3000"

// DefaultReadTimeout bounds the time a client may take to send a whole request, headers and
// body: a body trickled a byte at a time is cut off when it runs out.
const DefaultReadTimeout = 30 * time.Second

// DefaultMaxConns bounds the connections a listener holds open at once: well above what the
// system needs (a few per peer, plus browsers), and below the open-file limit a Go process
// raises itself to on common systems, so that a flood of clients is refused by the service
// before the kernel refuses its own files and dials.
const DefaultMaxConns = 10000

// Common holds the flags that every service takes (listed in the README).
type Common struct {
	Listen        string
	Advertise     string
	Registry      string
	Name          string
	Token         string
	Data          string
	LogLevel      string
	CheckInterval time.Duration
	// ReadTimeout bounds reading one whole request, body included (zero: DefaultReadTimeout).
	ReadTimeout time.Duration
	// MaxConns bounds the open connections of each listener (zero: DefaultMaxConns).
	MaxConns int
	// AllowedHosts lists, comma-separated, the Host names the service answers to besides IP
	// addresses, localhost and the -listen and -advertise hosts (see httpx.HostAllowList).
	AllowedHosts string
}

// Defaults are the per-service defaults of Common.
type Defaults struct {
	Listen string
	Name   string
	Data   string
}

// Bind declares the common flags on fs, writing into c.
func (c *Common) Bind(fs *flag.FlagSet, d Defaults) {
	fs.StringVar(&c.Listen, "listen", d.Listen, "`host:port` to listen on")
	fs.StringVar(&c.Advertise, "advertise", "", "`host:port` that other services and health checks dial (default: the listen address)")
	fs.StringVar(&c.Registry, "registry", DefaultRegistry, "registry `URL`: the built-in hub, or a Consul agent such as http://127.0.0.1:8500")
	fs.StringVar(&c.Name, "name", d.Name, "registered service `name`")
	fs.StringVar(&c.Token, "token", "", "shared `secret`: writes need Authorization: Bearer <token>; also sent to the registry as its ACL token")
	fs.StringVar(&c.Data, "data", d.Data, "`directory` where the service keeps its state")
	fs.StringVar(&c.LogLevel, "log-level", "info", "least severe log `level` shown: debug, info, warn or error")
	fs.DurationVar(&c.CheckInterval, "check-interval", time.Second, "how often the registry checks this service's /health")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", DefaultReadTimeout, "longest time a client may take to send one whole request, body included; a slower one is cut off")
	fs.StringVar(&c.AllowedHosts, "allowed-hosts", "", "comma-separated host `names` this service answers to besides IP addresses, localhost and the -listen and -advertise hosts (name, name:port, .domain, or * for any); any other Host gets 421, against DNS rebinding")
	fs.IntVar(&c.MaxConns, "max-conns", DefaultMaxConns, "hold at most `N` connections open on each listener; one past it is accepted and closed at once, and counted in gradebook_net_connections_rejected_total")
}

// EnvName is the environment variable that sets flag name: GRADEBOOK_<NAME>, '-' read as '_'.
func EnvName(flagName string) string {
	return "GRADEBOOK_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse sets fs's flags from the environment, then from args, so that the command line wins over
// GRADEBOOK_* variables, which win over CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN, which win over the
// defaults. getenv may be nil.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if f := fs.Lookup("registry"); f != nil {
		if v := getenv("CONSUL_HTTP_ADDR"); v != "" {
			if err := f.Value.Set(v); err != nil {
				return fmt.Errorf("CONSUL_HTTP_ADDR: %w", err)
			}
		}
	}
	if f := fs.Lookup("token"); f != nil {
		if v := getenv("CONSUL_HTTP_TOKEN"); v != "" {
			_ = f.Value.Set(v)
		}
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil {
			return
		}
		if v := getenv(EnvName(f.Name)); v != "" {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", EnvName(f.Name), v, serr)
			}
		}
	})
	if err != nil {
		return err
	}
	return fs.Parse(args)
}

// Validate checks the common flags and fills in derived values: an empty Advertise becomes
// Listen, a Registry without a scheme gets http://, and a zero ReadTimeout or MaxConns gets its
// default.
func (c *Common) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("-listen %q: want host:port", c.Listen))
	}
	if c.Advertise == "" {
		c.Advertise = c.Listen
	}
	if _, _, err := net.SplitHostPort(c.Advertise); err != nil {
		errs = append(errs, fmt.Errorf("-advertise %q: want host:port", c.Advertise))
	}
	reg, err := NormalizeURL(c.Registry)
	if err != nil {
		errs = append(errs, fmt.Errorf("-registry: %w", err))
	}
	c.Registry = reg
	if strings.TrimSpace(c.Name) == "" {
		errs = append(errs, errors.New("-name must not be empty"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("-log-level %q: want debug, info, warn or error", c.LogLevel))
	}
	if c.CheckInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("-check-interval %v: the least is 100ms", c.CheckInterval))
	}
	switch {
	case c.ReadTimeout == 0:
		c.ReadTimeout = DefaultReadTimeout
	case c.ReadTimeout < 100*time.Millisecond:
		errs = append(errs, fmt.Errorf("-read-timeout %v: the least is 100ms", c.ReadTimeout))
	}
	switch {
	case c.MaxConns == 0:
		c.MaxConns = DefaultMaxConns
	case c.MaxConns < 0:
		errs = append(errs, fmt.Errorf("-max-conns %d: want a positive number", c.MaxConns))
	}
	return errors.Join(errs...)
}

// NormalizeURL turns "host:port" or "http://host:port/" into "http://host:port".
func NormalizeURL(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("empty URL")
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("%q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return "", fmt.Errorf("%q: no host", raw)
	}
	return u.Scheme + "://" + u.Host, nil
}
