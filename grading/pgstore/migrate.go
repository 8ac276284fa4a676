package pgstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/go-kit/log/level"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrations are the schema's versions, applied in order by goose and recorded in its table
// goose_db_version. A released file is never edited: a change is a new file.
//
//go:embed migrations/*.sql
var migrations embed.FS

// migrationLockID is the key of the advisory lock that the migrating connection holds: goose's
// own default, so that the goose command run by hand against the same database waits for it too.
const migrationLockID = lock.DefaultLockID

// migrate applies the migrations the database lacks. Several instances opening an empty database
// at once all see pending migrations; each then waits for the advisory lock, and the first to
// hold it applies them while the others find nothing left to do once they get it.
func (s *Store) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	// goose retries a taken lock once a second (its shortest period), for up to a minute: far
	// longer than any of these migrations holds it.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 60))
	if err != nil {
		return err
	}
	// goose speaks database/sql; this one borrows the pool's connections and is closed with the
	// provider, which leaves the pool open.
	provider, err := goose.NewProvider(goose.DialectPostgres, stdlib.OpenDBFromPool(s.pool), fsys,
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true), goose.WithLogger(gooseLogger{}))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	defer provider.Close()
	// The common case, an up-to-date schema, is told without taking the lock.
	pending, err := provider.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if !pending {
		return nil
	}
	results, err := provider.Up(ctx)
	for _, r := range results {
		level.Info(s.logger).Log("msg", "applied a schema migration", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
	}
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	return nil
}

// gooseLogger silences goose's own output, which goes to the standard logger: the store logs the
// migrations it applied itself.
type gooseLogger struct{}

func (gooseLogger) Printf(string, ...any) {}
func (gooseLogger) Fatalf(string, ...any) {}
