package main

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresDatabase creates a fresh database on the PostgreSQL server that GRADEBOOK_TEST_POSTGRES
// names (a URL whose role may CREATE DATABASE), drops it when the test ends, and returns its URL.
// Without the variable the test skips loudly, or fails under CI.
func postgresDatabase(t *testing.T) string {
	t.Helper()
	admin := os.Getenv("GRADEBOOK_TEST_POSTGRES")
	if admin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("GRADEBOOK_TEST_POSTGRES is not set (required under CI): set it to a PostgreSQL URL whose role may CREATE DATABASE")
		}
		t.Skip("\n*** SKIPPED: GRADEBOOK_TEST_POSTGRES is not set.\n*** This test needs PostgreSQL: set it to a URL whose role may CREATE DATABASE, such as\n" +
			"*** postgres://gradebook:gradebook@127.0.0.1:5432/gradebook?sslmode=disable. Under CI=true it fails instead of skipping.")
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal("GRADEBOOK_TEST_POSTGRES is not a URL")
	}
	name := "gradebook_test_" + strings.ToLower(rand.Text()[:12])
	exec := func(ctx context.Context, sql string) error {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, sql)
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create a test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// FORCE ends the connections of a grading instance that outlived the test.
		if err := exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop the test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
