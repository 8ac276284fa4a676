package toolbuild

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinaryBuildsOnceAndAgainWhenThePinChanges builds a tiny pinned program: the first call
// builds it, the second finds it in the cache, and a changed pin builds it anew elsewhere.
func TestBinaryBuildsOnceAndAgainWhenThePinChanges(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	// The binary goes to a cache of the test's own; the go command keeps its build cache.
	t.Setenv("GOCACHE", strings.TrimSpace(string(gocache)))
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	root := t.TempDir()
	write := func(path, text string) {
		t.Helper()
		path = filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mod := "module example.com/hello\n\ngo 1.22\n"
	write("go.mod", mod)
	write("hello/main.go", "package main\n\nfunc main() { println(\"hello\") }\n")
	write("tools/hello/go.mod", mod)
	write("tools/hello/go.sum", "")
	tool := Tool{Name: "hello", Title: "Hello", Dir: "hello", Package: "example.com/hello/hello"}

	first, err := Binary(context.Background(), root, tool, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(first).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "hello" {
		t.Fatalf("the built binary says %q, %v; want hello", out, err)
	}
	before, err := os.Stat(first)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Binary(context.Background(), root, tool, nil)
	if err != nil {
		t.Fatal(err)
	}
	if after, err := os.Stat(again); again != first || err != nil || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("second call: %s (%v), want the cached %s untouched", again, err, first)
	}

	write("tools/hello/go.mod", mod+"\n// changed\n")
	changed, err := Binary(context.Background(), root, tool, nil)
	if err != nil {
		t.Fatal(err)
	}
	if changed == first {
		t.Errorf("a changed pin reused %s", first)
	}
}

// TestBinaryNamesAMissingPin: outside the source tree the error says which pin is missing.
func TestBinaryNamesAMissingPin(t *testing.T) {
	_, err := Binary(context.Background(), t.TempDir(), Tool{Name: "x", Title: "Thing", Dir: "x", Package: "example.com/x"}, nil)
	if err == nil || !strings.Contains(err.Error(), "the Thing pin") {
		t.Errorf("Binary without tools/x = %v; want an error naming the Thing pin", err)
	}
}
