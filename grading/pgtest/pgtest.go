package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// EnvURL is the environment variable with the admin URL of the server tests use: a role that
// may create databases, such as postgres://gradebook:gradebook@127.0.0.1:5432/gradebook.
const EnvURL = "GRADEBOOK_TEST_POSTGRES"

// AdminURL answers the server's admin URL. Without one the test is skipped with a message that
// says what to set, or, under CI (CI set), fails: there a skipped PostgreSQL test would hide
// that the shared store was never tested.
func AdminURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvURL)
	if admin != "" {
		return admin
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("PostgreSQL is required under CI: set %s", EnvURL)
	}
	t.Skipf("SKIPPED: this test needs PostgreSQL. Set %s to the URL of a role that may create databases, "+
		"e.g. %s=postgres://gradebook:gradebook@127.0.0.1:5432/gradebook?sslmode=disable", EnvURL, EnvURL)
	return ""
}

// URL creates a fresh, empty database for this test and answers its URL: the admin URL with the
// database's name in place of its own. The database is dropped when the test ends, with every
// connection to it still open.
func URL(t testing.TB) string {
	t.Helper()
	admin := AdminURL(t)
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s does not parse as a URL", EnvURL)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "gradebook_test_" + hex.EncodeToString(b[:])
	exec(t, admin, "CREATE DATABASE "+name)
	t.Cleanup(func() { dropDatabase(t, admin, name) })
	u.Path = "/" + name
	return u.String()
}

// dropDatabase drops the test's database, with every connection to it still open. WITH (FORCE)
// ends those connections, but it is refused (42501) when one of them is not the test role's to
// end: an autovacuum worker that the server happened to start on the database, which finishes in
// moments. So a refusal is tried again for a while before it fails the test.
func dropDatabase(t testing.TB, admin, name string) {
	t.Helper()
	sql := "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := try(admin, sql)
		var pe *pgconn.PgError
		if err == nil {
			return
		}
		if !errors.As(err, &pe) || (pe.Code != "42501" && pe.Code != "55006") || time.Now().After(deadline) {
			t.Fatalf("%s: %v", sql, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// try runs one statement on the admin URL's database.
func try(admin, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", EnvURL, err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// exec runs one statement on the admin URL's database, and fails the test if it fails.
func exec(t testing.TB, admin, sql string) {
	t.Helper()
	if err := try(admin, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
