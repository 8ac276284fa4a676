//go:build ignore

// gen regenerates grading.pb.go and grading_grpc.pb.go from grading.proto with protoc and the
// protoc-gen-go and protoc-gen-go-grpc versions that go.mod pins as tools, so that the output is
// the same byte for byte on every machine with the same protoc. It is run by go generate (see
// generate.go) and by TestGeneratedCodeIsCurrent, which passes -out to generate elsewhere.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

func main() {
	out := flag.String("out", ".", "`directory` to write the generated files to")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	goPlugin, err := toolPath("protoc-gen-go")
	if err != nil {
		return err
	}
	grpcPlugin, err := toolPath("protoc-gen-go-grpc")
	if err != nil {
		return err
	}
	cmd := exec.Command("protoc",
		"--plugin=protoc-gen-go="+goPlugin,
		"--plugin=protoc-gen-go-grpc="+grpcPlugin,
		"--go_out="+out, "--go_opt=paths=source_relative",
		"--go-grpc_out="+out, "--go-grpc_opt=paths=source_relative",
		"grading.proto")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("protoc: %w", err)
	}
	return nil
}

// toolPath builds a go tool dependency (if the build cache lacks it) and answers its path.
func toolPath(name string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("go", "tool", "-n", name)
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go tool -n %s: %w: %s", name, err, stderr.String())
	}
	return strings.TrimSpace(string(b)), nil
}
