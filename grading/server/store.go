package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-kit/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/grading/boltstore"
	"github.com/gradebook/gradebook/grading/pgstore"
)

// store is what the process needs of a store: the contract, and a way to tell /health whether it
// can serve. Both implementations are both.
type store interface {
	grading.Store
	grading.Pinger
}

// storeFlags are the flags that choose and tune the store.
type storeFlags struct {
	store            string
	maxConns         int
	connectTimeout   time.Duration
	statementTimeout time.Duration
}

func (f *storeFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.store, "store", "", "where students and grades are kept: empty or \"bolt\" for the file "+StoreFile+
		" under -data (one instance), or a PostgreSQL `URL` (postgres://user:password@host:5432/db) that any number of "+
		"instances share; the password is never shown")
	fs.IntVar(&f.maxConns, "store-max-conns", pgstore.DefaultMaxConns, "most connections to PostgreSQL from this instance")
	fs.DurationVar(&f.connectTimeout, "store-connect-timeout", pgstore.DefaultConnectTimeout,
		"how long one attempt to connect to PostgreSQL may take before it counts as unreachable")
	fs.DurationVar(&f.statementTimeout, "store-statement-timeout", pgstore.DefaultStatementTimeout,
		"how long one PostgreSQL statement may run (statement_timeout) before the call answers storage unavailable")
}

func (f *storeFlags) postgres() bool { return pgstore.IsURL(f.store) }

// validate refuses a -store that names no store, without echoing it: it may hold a password.
func (f *storeFlags) validate() error {
	var errs []error
	switch {
	case f.store == "" || f.store == KindBolt || f.postgres():
	default:
		what := "a value that is neither"
		if scheme, _, ok := strings.Cut(f.store, "://"); ok {
			what = fmt.Sprintf("a %s:// URL", scheme)
		}
		errs = append(errs, fmt.Errorf("-store: want empty or %q (a bbolt file under -data), or a postgres:// or postgresql:// URL, not %s", KindBolt, what))
	}
	if f.maxConns < 1 {
		errs = append(errs, fmt.Errorf("-store-max-conns %d: want at least 1", f.maxConns))
	}
	if f.connectTimeout <= 0 {
		errs = append(errs, fmt.Errorf("-store-connect-timeout %v: want more than 0", f.connectTimeout))
	}
	if f.statementTimeout <= 0 {
		errs = append(errs, fmt.Errorf("-store-statement-timeout %v: want more than 0", f.statementTimeout))
	}
	return errors.Join(errs...)
}

// where names the store for the log, with any password redacted.
func (f *storeFlags) where(data string) string {
	if f.postgres() {
		return pgstore.Redact(f.store)
	}
	return filepath.Join(data, StoreFile)
}

// open opens the store the flags select, and answers its kind.
func (f *storeFlags) open(ctx context.Context, data string, logger log.Logger, tracer trace.Tracer) (store, string, error) {
	if !f.postgres() {
		s, err := boltstore.Open(filepath.Join(data, StoreFile))
		if err != nil {
			return nil, "", err
		}
		return s, KindBolt, nil
	}
	s, err := pgstore.Open(ctx, pgstore.Config{
		URL:              f.store,
		MaxConns:         int32(min(f.maxConns, 1<<16)),
		ConnectTimeout:   f.connectTimeout,
		StatementTimeout: f.statementTimeout,
		Logger:           log.With(logger, "component", "store"),
		QueryTracer:      pgQueryTracer{tracer},
	})
	if err != nil {
		return nil, "", err
	}
	return s, KindPostgres, nil
}
