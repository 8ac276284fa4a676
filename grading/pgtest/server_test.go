package pgtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestServer: a server of the test's own keeps what was committed across a fast shutdown and a
// start on the same port, and refuses connections while it is stopped.
func TestServer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs initdb and a PostgreSQL server")
	}
	s := StartServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := func(sql string) error {
		conn, err := pgx.Connect(ctx, s.URL())
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := run(`CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)`); err != nil {
		t.Fatal(err)
	}
	url := s.URL()
	s.Stop()
	if err := run(`SELECT 1`); err == nil {
		t.Error("the stopped server still answers")
	}
	s.Start()
	if s.URL() != url {
		t.Errorf("the URL changed across a restart: %s, then %s", url, s.URL())
	}
	conn, err := pgx.Connect(ctx, s.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT n FROM kept`).Scan(&n); err != nil || n != 42 {
		t.Errorf("after a restart the committed row reads %d, %v; want 42", n, err)
	}
	var fsync string
	if err := conn.QueryRow(ctx, `SHOW fsync`).Scan(&fsync); err != nil || fsync != "on" {
		t.Errorf("fsync is %q (%v), want on", fsync, err)
	}
}

// TestFindBinaries: the newest major version under Debian's directory wins, by number rather
// than by name; without one, initdb on the PATH is used; without either, the error says so.
func TestFindBinaries(t *testing.T) {
	tree := func(t *testing.T, versions ...string) string {
		root := t.TempDir()
		for _, v := range versions {
			bin := filepath.Join(root, v, "bin")
			if err := os.MkdirAll(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"initdb", "postgres"} {
				if err := os.WriteFile(filepath.Join(bin, p), []byte("#!/bin/sh\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
		}
		return root
	}
	t.Run("newest version", func(t *testing.T) {
		root := tree(t, "9.6", "15", "16", "16.2")
		if err := os.MkdirAll(filepath.Join(root, "17", "bin"), 0o755); err != nil { // no programs
			t.Fatal(err)
		}
		got, err := findBinaries(root)
		if want := filepath.Join(root, "16.2", "bin"); got != want || err != nil {
			t.Errorf("findBinaries = %q, %v; want %q", got, err, want)
		}
	})
	t.Run("on the PATH", func(t *testing.T) {
		path := filepath.Join(tree(t, "x"), "x", "bin")
		t.Setenv("PATH", path)
		if got, err := findBinaries(t.TempDir()); got != path || err != nil {
			t.Errorf("findBinaries = %q, %v; want %q", got, err, path)
		}
	})
	t.Run("none", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		if got, err := findBinaries(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no initdb on the PATH") {
			t.Errorf("findBinaries = %q, %v; want an error saying there is no initdb", got, err)
		}
	})
}

// TestMissingPrograms: without PostgreSQL's programs a server test fails under CI and skips,
// saying what to install, elsewhere.
func TestMissingPrograms(t *testing.T) {
	for _, tc := range []struct {
		ci                 string
		wantFail, wantSkip string
	}{
		{ci: "true", wantFail: "PostgreSQL is required under CI"},
		{ci: "", wantSkip: "SKIPPED: this test needs"},
	} {
		t.Setenv("CI", tc.ci)
		r := &recorder{TB: t}
		missing(r, "this test needs PostgreSQL's own programs")
		if !strings.Contains(r.fatal, tc.wantFail) || tc.wantFail == "" && r.fatal != "" {
			t.Errorf("CI=%q: failed with %q, want %q", tc.ci, r.fatal, tc.wantFail)
		}
		if tc.wantSkip != "" && !strings.Contains(r.skip, tc.wantSkip) {
			t.Errorf("CI=%q: skipped with %q, want %q", tc.ci, r.skip, tc.wantSkip)
		}
	}
}
