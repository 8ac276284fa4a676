package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"time"
)

// The image's build sets these with -ldflags "-X main.buildVersion=... -X main.buildCommit=...":
// a container build has no .git for Go to read the commit from. They are the linker's to write;
// nothing in the program changes them.
var (
	buildVersion string
	buildCommit  string
)

// imageCommand runs the two commands that an image with nothing but this binary needs:
// "health", which container health checks run instead of curl, and "version".
func imageCommand(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) error {
	switch cmd {
	case "health":
		return health(ctx, args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, versionLine(buildVersion, buildCommit, readBuildInfo()))
		return nil
	}
	return fmt.Errorf("unknown command %q", cmd)
}

// health GETs one URL and succeeds only on a 2xx answer within the timeout, so that
// ["CMD", "/gradebook", "health", "http://127.0.0.1:5000/health"] is a container health check.
func health(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gradebook health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 2*time.Second, "how long to wait for the whole answer")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: gradebook health [-timeout 2s] URL

GETs URL and exits 0 on a 2xx answer, 1 otherwise: a container health check that needs no
shell or curl in the image, for example
  ["CMD", "/gradebook", "health", "http://127.0.0.1:5000/health"]

Flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("health takes one URL")
	}
	url := fs.Arg(0)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	// No proxy: a health check dials the service itself, whatever the container's environment says.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	fmt.Fprintf(stdout, "%s: %s\n", url, resp.Status)
	return nil
}

// buildInfo is what versionLine needs from runtime/debug.ReadBuildInfo.
type buildInfo struct {
	goVersion string
	version   string // the main module's version: "(devel)" for a build inside its source tree
	revision  string // vcs.revision, when the go command stamped it
	modified  bool   // vcs.modified
}

func readBuildInfo() buildInfo {
	b := buildInfo{goVersion: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.version = info.Main.Version
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.revision = s.Value
		case "vcs.modified":
			b.modified = s.Value == "true"
		}
	}
	return b
}

// versionLine prefers what the build was told (-ldflags -X) over what the go command stamped.
func versionLine(version, commit string, b buildInfo) string {
	if version == "" {
		version = b.version
	}
	if version == "" {
		version = "(devel)"
	}
	if commit == "" {
		commit = b.revision
		if commit != "" && b.modified {
			commit += "-dirty"
		}
	}
	if commit == "" {
		commit = "unknown"
	}
	return fmt.Sprintf("gradebook %s commit %s %s", version, commit, b.goVersion)
}
