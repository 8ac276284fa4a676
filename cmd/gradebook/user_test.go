package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/gradebook/gradebook/portal/auth"
)

// TestUserHash: the line "gradebook user hash" prints is one the portal's users file accepts,
// for that password and no other; an empty password is refused rather than hashed.
func TestUserHash(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"user", "hash", "frizzle"}, os.Getenv, strings.NewReader("magic school bus\n"), &stdout, &stderr)
	if err != nil {
		t.Fatalf("user hash: %v (stderr %q)", err, stderr.String())
	}
	line := stdout.String()
	if !strings.HasPrefix(line, "frizzle:$2a$") || strings.Count(line, "\n") != 1 {
		t.Fatalf("printed %q, want one line frizzle:$2a$…", line)
	}
	users, err := auth.ParseUsers(strings.NewReader(line))
	if err != nil {
		t.Fatalf("the printed line is not a users file: %v", err)
	}
	if !users.Check("frizzle", "magic school bus") || users.Check("frizzle", "magic school bus\n") || users.Check("frizzle", "wrong") {
		t.Error("the printed hash does not match exactly the password given")
	}

	for _, c := range []struct{ name, stdin string }{{"empty", ""}, {"empty line", "\n"}, {"CRLF only", "\r\n"}} {
		stdout.Reset()
		err := run(context.Background(), []string{"user", "hash", "frizzle"}, os.Getenv, strings.NewReader(c.stdin), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), "empty") || stdout.Len() != 0 {
			t.Errorf("%s password: err %v, printed %q; want an error saying it is empty and nothing printed", c.name, err, stdout.String())
		}
	}
	for _, args := range [][]string{{"user"}, {"user", "hash"}, {"user", "hash", "a:b"}, {"user", "hash", "two words"}, {"user", "remove", "x"}} {
		if err := run(context.Background(), args, os.Getenv, strings.NewReader("pw\n"), &stdout, &stderr); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
