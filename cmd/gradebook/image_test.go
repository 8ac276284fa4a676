package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// TestHealthCommand checks what a container health check relies on: success exactly on 2xx, and
// failure (not a hang) when the service is slow or gone.
func TestHealthCommand(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte(`{"status":"passing"}`))
		case "/created":
			w.WriteHeader(http.StatusNoContent)
		case "/sick":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/moved":
			http.Redirect(w, r, "/sick", http.StatusFound)
		case "/slow":
			<-release
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()

	cases := []struct {
		name string
		args []string
		ok   bool
	}{
		{"200 passes", []string{srv.URL + "/ok"}, true},
		{"any 2xx passes", []string{srv.URL + "/created"}, true},
		{"503 fails", []string{srv.URL + "/sick"}, false},
		{"404 fails", []string{srv.URL + "/nothing"}, false},
		{"a redirect is followed to its answer", []string{srv.URL + "/moved"}, false},
		{"a closed port fails", []string{gone.URL + "/health"}, false},
		{"no URL fails", nil, false},
		{"two URLs fail", []string{srv.URL + "/ok", srv.URL + "/ok"}, false},
		{"a bad URL fails", []string{"::not a url"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"health"}, c.args...), os.Getenv, nil, &stdout, &stderr)
			if (err == nil) != c.ok {
				t.Fatalf("health %v: err = %v, want ok=%v (stderr %q)", c.args, err, c.ok, stderr.String())
			}
		})
	}

	t.Run("a slow service fails within the timeout", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		start := time.Now()
		err := run(context.Background(), []string{"health", "-timeout", "200ms", srv.URL + "/slow"}, os.Getenv, nil, &stdout, &stderr)
		if err == nil {
			t.Fatal("health of a service that never answers succeeded")
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("health took %v with -timeout 200ms", took)
		}
	})
}

func TestVersionLine(t *testing.T) {
	cases := []struct {
		name            string
		version, commit string
		info            buildInfo
		want            string
	}{
		{"the build's flags win", "v1.2.0", "abc123", buildInfo{goVersion: "go1.26.8", version: "(devel)", revision: "fff"},
			"gradebook v1.2.0 commit abc123 go1.26.8"},
		{"the go command's stamp", "", "", buildInfo{goVersion: "go1.26.8", version: "(devel)", revision: "fff", modified: true},
			"gradebook (devel) commit fff-dirty go1.26.8"},
		{"nothing known", "", "", buildInfo{goVersion: "go1.26.8"},
			"gradebook (devel) commit unknown go1.26.8"},
	}
	for _, c := range cases {
		if got := versionLine(c.version, c.commit, c.info); got != c.want {
			t.Errorf("%s: versionLine = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestVersionCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"version"}, os.Getenv, nil, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); !strings.HasPrefix(got, "gradebook ") || !strings.Contains(got, " commit ") {
		t.Fatalf("version printed %q", got)
	}
}
