package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/gradebook/gradebook/internal/testkit"
)

// mod is the module path; the rules below name the module's own packages with it.
const mod = "github.com/gradebook/gradebook/"

// A rule says that no package matching from may depend, directly or through other packages, on
// a package matching never, unless that package matches except. Patterns are import paths; one
// ending in "/..." also matches everything under it, as with the go command.
type rule struct {
	why    string
	from   []string
	never  []string
	except []string
}

// rules is the dependency rule of the target architecture. A rule about a package that is not in
// the module yet has nothing to check; the test logs it.
func rules() []rule {
	// transports are the packages that carry a request over the wire.
	transports := []string{"net/http/...", "google.golang.org/grpc/...", "github.com/gorilla/mux/...", mod + "pkg/httpx/..."}
	// stores are grading's store implementations and the drivers under them: only the grading
	// process links them.
	stores := []string{mod + "grading/boltstore/...", mod + "grading/pgstore/...", "go.etcd.io/bbolt/...",
		"github.com/jackc/pgx/...", "github.com/pressly/goose/..."}
	// testKits are for tests only: no binary links them.
	testKits := []string{mod + "grading/gradingtest/...", mod + "grading/storetest/...", mod + "grading/pgtest/...",
		mod + "internal/testkit/...", mod + "internal/jaegertest/...", mod + "internal/prometheustest/...", mod + "registry/registrytest/...",
		mod + "openapi/openapitest/..."}
	return []rule{
		{
			why:   "shared vocabulary is transport-neutral: each transport maps it once",
			from:  []string{mod + "pkg/errs", mod + "pkg/text", mod + "pkg/idempotency"},
			never: transports,
		},
		{
			why:  "the grading domain knows no store, no transport, no metrics or tracing backend and none of its own adapters",
			from: []string{mod + "grading"},
			never: append([]string{"net/http/...", "google.golang.org/grpc/...", "github.com/gorilla/mux/...", mod + "pkg/httpx/...",
				"github.com/prometheus/...", "go.opentelemetry.io/otel/sdk/...", "go.opentelemetry.io/contrib/...",
				mod + "pkg/tracing/...", mod + "grading/..."}, stores...),
		},
		{
			why:    "pkg is plumbing shared by the services and depends on none of them; the runtime may attach the log shipping client",
			from:   []string{mod + "pkg/..."},
			never:  []string{mod + "grading/...", mod + "portal/...", mod + "registry/...", mod + "logging/..."},
			except: []string{mod + "logging/logclient"},
		},
		{
			why:  "the portal binary links no grading server or store, no log server and no registry",
			from: []string{mod + "cmd/teacherportalservice"},
			never: append([]string{mod + "grading/server/...", mod + "grading/grpcserver/...", mod + "logging", mod + "registry"},
				stores...),
		},
		{
			why:   "who a teacher is is decided without HTTP or any service: the portal's handlers put it on the wire",
			from:  []string{mod + "portal/auth"},
			never: append([]string{mod + "grading/...", mod + "logging/...", mod + "registry/...", mod + "pkg/..."}, transports...),
		},
		{
			why:   "the grading binary links no other service's server",
			from:  []string{mod + "cmd/gradingservice"},
			never: []string{mod + "portal/...", mod + "registry", mod + "logging"},
		},
		{
			why:   "the log binary links no other service's server",
			from:  []string{mod + "cmd/logservice"},
			never: []string{mod + "grading/...", mod + "portal/...", mod + "registry"},
		},
		{
			why:   "the registry binary links no other service's server",
			from:  []string{mod + "cmd/registryservice"},
			never: []string{mod + "grading/...", mod + "portal/...", mod + "logging"},
		},
		{
			why:  "a client never pulls in its server or store",
			from: []string{mod + "grading/gradingclient"},
			never: append([]string{mod + "grading/server/...", mod + "grading/grpcserver/...", mod + "grading/httpserver/..."},
				stores...),
		},
		{
			why:   "a transport serves endpoints and never reaches a store or the process around it",
			from:  []string{mod + "grading/httpserver", mod + "grading/grpcserver"},
			never: append([]string{mod + "grading/server/..."}, stores...),
		},
		{
			why:   "a store is the domain's and its driver's only: it knows no transport, no process and no other store",
			from:  []string{mod + "grading/boltstore", mod + "grading/pgstore"},
			never: append([]string{mod + "grading/server/...", mod + "grading/gradingclient/...", mod + "grading/boltstore", mod + "grading/pgstore"}, transports...),
		},
		{
			why:   "test kits are for tests; a binary that links one ships code it never runs",
			from:  []string{mod + "cmd/..."},
			never: testKits,
		},
		{
			why:   "the OpenAPI documents are data that both services serve: they know no service",
			from:  []string{mod + "openapi"},
			never: []string{mod + "grading/...", mod + "portal/...", mod + "registry/...", mod + "logging/...", mod + "pkg/..."},
		},
		{
			why:   "a client never pulls in its server",
			from:  []string{mod + "logging/logclient"},
			never: []string{mod + "logging"},
		},
	}
}

// pkg is what the test reads of "go list -json" for one package.
type pkg struct {
	ImportPath string
	Imports    []string // direct imports
	Deps       []string // every package it depends on, directly or not
	DepOnly    bool     // listed only as a dependency of the module's packages
}

func TestDependencyRule(t *testing.T) {
	pkgs, ours := list(t)
	for _, r := range rules() {
		for _, f := range r.from {
			subjects := matching(ours, f)
			if len(subjects) == 0 {
				t.Logf("no package %s in the module yet: nothing to check for %q", f, r.why)
			}
			for _, p := range subjects {
				// One error per forbidden pattern, with the shortest chain: grading importing
				// five gRPC packages is one thing to fix, not five.
				byPattern := map[string][][]string{}
				for _, c := range violations(pkgs, p, r) {
					pat := r.never[slices.IndexFunc(r.never, func(n string) bool { return matches(c[len(c)-1], n) })]
					byPattern[pat] = append(byPattern[pat], c)
				}
				for _, pat := range r.never {
					chains := byPattern[pat]
					if len(chains) == 0 {
						continue
					}
					msg := fmt.Sprintf("%s depends on %s, but %s\n\tchain: %s", p, chains[0][len(chains[0])-1], r.why, strings.Join(chains[0], " -> "))
					if len(chains) > 1 {
						var more []string
						for _, c := range chains[1:] {
							more = append(more, c[len(c)-1])
						}
						msg += fmt.Sprintf("\n\tand %d more under %s: %s", len(more), pat, strings.Join(more, ", "))
					}
					t.Error(msg)
				}
			}
		}
		// A forbidden package of the module that does not exist (yet, or any more after a
		// rename) makes its part of the rule say nothing.
		for _, n := range r.never {
			if strings.HasPrefix(n, mod) && len(matching(ours, n)) == 0 {
				t.Logf("no package %s in the module: nothing depends on it yet (%q)", n, r.why)
			}
		}
	}
}

// violations walks the imports of from breadth-first and returns the shortest chain to each
// forbidden package it meets. It does not walk on through a forbidden package: what that one
// imports is its own business, and the first forbidden import is the one to remove.
func violations(pkgs map[string]*pkg, from string, r rule) [][]string {
	if !slices.ContainsFunc(pkgs[from].Deps, func(d string) bool { return forbidden(d, r) }) {
		return nil
	}
	prev := map[string]string{from: ""}
	queue := []string{from}
	var out [][]string
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p != from && forbidden(p, r) {
			var c []string
			for q := p; q != ""; q = prev[q] {
				c = append(c, q)
			}
			slices.Reverse(c)
			out = append(out, c)
			continue
		}
		if pkgs[p] == nil {
			continue
		}
		for _, imp := range pkgs[p].Imports {
			if _, seen := prev[imp]; !seen {
				prev[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	return out
}

func forbidden(path string, r rule) bool {
	return matchesAny(path, r.never) && !matchesAny(path, r.except)
}

// list runs one "go list -deps" over the module and returns every package it names, by import
// path, and the import paths of the module's own packages.
func list(t *testing.T) (map[string]*pkg, []string) {
	t.Helper()
	root, err := testkit.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Imports,Deps,DepOnly", "./...")
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]*pkg{}
	var ours []string
	for dec := json.NewDecoder(&stdout); ; {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs[p.ImportPath] = &p
		if !p.DepOnly {
			ours = append(ours, p.ImportPath)
		}
	}
	return pkgs, ours
}

func matching(paths []string, pattern string) []string {
	var out []string
	for _, p := range paths {
		if matches(p, pattern) {
			out = append(out, p)
		}
	}
	return out
}

func matchesAny(path string, patterns []string) bool {
	for _, pat := range patterns {
		if matches(path, pat) {
			return true
		}
	}
	return false
}

// matches reports whether an import path matches a pattern: the path itself, or with "/..."
// the path and everything under it.
func matches(path, pattern string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == prefix || strings.HasPrefix(path, prefix+"/")
	}
	return path == pattern
}
