package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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
	t.Cleanup(func() { exec(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	u.Path = "/" + name
	return u.String()
}

// exec runs one statement on the admin URL's database.
func exec(t testing.TB, admin, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
