package pb

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestGeneratedCodeIsCurrent regenerates the code into a temporary directory and fails on any
// byte of difference, so that an edit to grading.proto (or by hand to the output) cannot go
// unnoticed. It needs protoc: missing, it is a failure under CI=true and a loud skip elsewhere.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("protoc is not installed (apt-get install protobuf-compiler): %v", err)
		}
		t.Skip("SKIPPED: protoc is not installed, so the generated code was NOT checked against grading.proto; install protobuf-compiler")
	}
	if testing.Short() {
		t.Skip("regenerating builds the protoc plugins; skipped with -short")
	}
	out := t.TempDir()
	cmd := exec.Command("go", "run", "gen.go", "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run gen.go: %v\n%s", err, b)
	}
	version, _ := exec.Command("protoc", "--version").Output()
	for _, name := range []string{"grading.pb.go", "grading_grpc.pb.go"} {
		want, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what grading.proto generates (with %s); run go generate ./grading/pb and commit the result\n%s",
				name, bytes.TrimSpace(version), firstDifference(got, want))
		}
	}
}

// firstDifference shows the first line that differs, which is usually enough to see why.
func firstDifference(got, want []byte) string {
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl []byte
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if !bytes.Equal(gl, wl) {
			return "line " + strconv.Itoa(i+1) + ":\n  committed:   " + string(gl) + "\n  regenerated: " + string(wl)
		}
	}
	return ""
}
