package pgstore

import (
	"fmt"
	"github.com/jackc/pgx/v5"
	"net/url"
	"strings"
	"time"

	"github.com/go-kit/log"
)

// The defaults of Config, which the grading process's flags show.
const (
	DefaultMaxConns         = 10
	DefaultConnectTimeout   = 5 * time.Second
	DefaultStatementTimeout = 5 * time.Second
)

// Config says which database to use and how to use it. The zero values of its numbers mean the
// defaults above; where the URL sets the same thing (pool_max_conns, connect_timeout, a
// statement_timeout option), Config wins.
type Config struct {
	// URL is a postgres:// or postgresql:// URL, with the password if the server wants one.
	URL string
	// MaxConns bounds the connections this handle keeps open to the server.
	MaxConns int32
	// ConnectTimeout bounds one attempt to open a connection, so that an unreachable server is
	// told within it rather than after the kernel's TCP timeout.
	ConnectTimeout time.Duration
	// StatementTimeout is the server's statement_timeout on every connection: no statement,
	// including a wait for a lock, runs longer.
	StatementTimeout time.Duration
	// Logger is told the migrations applied at Open, and each time the database becomes
	// unreachable (with why) and reachable again. Nil discards them.
	Logger log.Logger
	// QueryTracer, when set, is told of every statement sent on the pool's connections: the
	// process traces them with it. Nil traces nothing.
	QueryTracer pgx.QueryTracer
}

func (c Config) withDefaults() Config {
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.StatementTimeout <= 0 {
		c.StatementTimeout = DefaultStatementTimeout
	}
	if c.Logger == nil {
		c.Logger = log.NewNopLogger()
	}
	return c
}

// String describes c for logs, with the password redacted.
func (c Config) String() string {
	c = c.withDefaults()
	return fmt.Sprintf("%s (max %d connections, connect timeout %v, statement timeout %v)",
		Redact(c.URL), c.MaxConns, c.ConnectTimeout, c.StatementTimeout)
}

// GoString is String, so that %#v cannot print the password either.
func (c Config) GoString() string { return "pgstore.Config{" + c.String() + "}" }

// IsURL reports whether s names a PostgreSQL database: a postgres:// or postgresql:// URL.
func IsURL(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	return ok && (strings.EqualFold(scheme, "postgres") || strings.EqualFold(scheme, "postgresql"))
}

// Redact returns the URL s with its password replaced by xxxxx, wherever it is given: in the
// user information (as url.URL.Redacted does) or as a password query parameter, which libpq
// accepts too. A string that does not parse as a URL is not shown at all, since there is no
// telling where a password in it would be.
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(a database URL that does not parse)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// secrets are the passwords in the URL s, so that they can be scrubbed from any text that might
// have picked them up.
func secrets(s string) []string {
	u, err := url.Parse(s)
	if err != nil {
		// Unparseable: the best guess is everything between the scheme and the host.
		if _, rest, ok := strings.Cut(s, "://"); ok {
			if at := strings.LastIndex(rest, "@"); at > 0 {
				return []string{rest[:at]}
			}
		}
		return nil
	}
	var out []string
	if p, ok := u.User.Password(); ok && p != "" {
		out = append(out, p, url.QueryEscape(p), url.PathEscape(p))
	}
	if p := u.Query().Get("password"); p != "" {
		out = append(out, p, url.QueryEscape(p))
	}
	return out
}
