package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPlan checks the command lines up gives its children: each service's own default port moved
// by -port-offset on -host, every flag named once, each grading instance on ports and a data
// directory of its own, the store in grading's environment and never on a command line, and
// nothing a service's flags would refuse.
func TestPlan(t *testing.T) {
	base := upConfig{data: "d", host: "127.0.0.2", portOffset: 100, gradingTransport: "grpc", checkInterval: time.Second}
	withHub := []string{
		"registry -listen 127.0.0.2:3100 -data d/registry -check-interval 1s",
		"log -listen 127.0.0.2:4100 -data d/log -check-interval 1s -registry http://127.0.0.2:3100",
		"grading -listen 127.0.0.2:6100 -data d/grading -check-interval 1s -registry http://127.0.0.2:3100 -grpc-listen 127.0.0.2:6101",
		"portal -listen 127.0.0.2:5100 -data d/portal -check-interval 1s -registry http://127.0.0.2:3100 -grading-transport grpc",
	}
	for _, tc := range []struct {
		name   string
		change func(*upConfig)
		want   []string
	}{
		{"built-in hub", func(*upConfig) {}, withHub},
		{"Consul instead of the hub", func(c *upConfig) { c.registry = "http://127.0.0.1:8500" }, []string{
			"log -listen 127.0.0.2:4100 -data d/log -check-interval 1s -registry http://127.0.0.1:8500",
			"grading -listen 127.0.0.2:6100 -data d/grading -check-interval 1s -registry http://127.0.0.1:8500 -grpc-listen 127.0.0.2:6101",
			"portal -listen 127.0.0.2:5100 -data d/portal -check-interval 1s -registry http://127.0.0.1:8500 -grading-transport grpc",
		}},
		{"token", func(c *upConfig) { c.token = "s3cret"; c.portOffset = 0; c.host = "127.0.0.1" }, []string{
			"registry -listen 127.0.0.1:3000 -data d/registry -check-interval 1s -token s3cret",
			"log -listen 127.0.0.1:4000 -data d/log -check-interval 1s -token s3cret -registry http://127.0.0.1:3000",
			"grading -listen 127.0.0.1:6000 -data d/grading -check-interval 1s -token s3cret -registry http://127.0.0.1:3000 -grpc-listen 127.0.0.1:6001",
			"portal -listen 127.0.0.1:5000 -data d/portal -check-interval 1s -token s3cret -registry http://127.0.0.1:3000 -grading-transport grpc",
		}},
		{"one instance on PostgreSQL", func(c *upConfig) { c.store = testStore }, withHub},
		{"teachers sign in", func(c *upConfig) { c.users = "users.txt"; c.sessionKeyFile = "d/portal/session.key" }, append(withHub[:3:3],
			"portal -listen 127.0.0.2:5100 -data d/portal -check-interval 1s -registry http://127.0.0.2:3100 -grading-transport grpc -users users.txt -session-key-file d/portal/session.key")},
		{"three instances on PostgreSQL", func(c *upConfig) { c.gradingInstances = 3; c.store = testStore }, []string{
			"registry -listen 127.0.0.2:3100 -data d/registry -check-interval 1s",
			"log -listen 127.0.0.2:4100 -data d/log -check-interval 1s -registry http://127.0.0.2:3100",
			"grading -listen 127.0.0.2:6100 -data d/grading -check-interval 1s -registry http://127.0.0.2:3100 -grpc-listen 127.0.0.2:6101",
			"grading -listen 127.0.0.2:6102 -data d/grading-2 -check-interval 1s -registry http://127.0.0.2:3100 -grpc-listen 127.0.0.2:6103",
			"grading -listen 127.0.0.2:6104 -data d/grading-3 -check-interval 1s -registry http://127.0.0.2:3100 -grpc-listen 127.0.0.2:6105",
			"portal -listen 127.0.0.2:5100 -data d/portal -check-interval 1s -registry http://127.0.0.2:3100 -grading-transport grpc",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.change(&c)
			children, err := plan(c)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			ports := map[string]string{}
			for _, ch := range children {
				got = append(got, strings.Join(ch.args, " "))
				if want := ch.args[slices.Index(ch.args, "-listen")+1]; ch.listen != want {
					t.Errorf("%s: up polls %s, but the child listens on %s", ch.name, ch.listen, want)
				}
				// The name in up's output is the process's data directory: grading, grading-2, …
				if dir := ch.args[slices.Index(ch.args, "-data")+1]; filepath.Base(dir) != ch.name {
					t.Errorf("%s keeps its state in %s", ch.name, dir)
				}
				for _, r := range ch.regs {
					if other, ok := ports[r.addr]; ok {
						t.Errorf("%s and %s both listen on %s", other, ch.name, r.addr)
					}
					ports[r.addr] = ch.name
				}
				var wantEnv []envVar
				if ch.service == "grading" && c.store != "" {
					wantEnv = []envVar{{"GRADEBOOK_STORE", c.store, testStoreShown, true}}
				}
				if !slices.Equal(ch.env, wantEnv) {
					t.Errorf("%s's environment: %v, want %v", ch.name, ch.env, wantEnv)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("command lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if n := len(children) - len(tc.want); n != 0 {
				t.Errorf("%d processes more than command lines", n)
			}
		})
	}

	// Every service accepts the flags and environment up gives it: its own parser, stopped by -h
	// before it starts.
	children, err := plan(upConfig{data: t.TempDir(), host: "127.0.0.1", token: "t", gradingTransport: "grpc", checkInterval: time.Second,
		gradingInstances: 2, store: testStore})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range children {
		i := slices.IndexFunc(services(), func(s serviceCommand) bool { return s.name == ch.args[0] })
		if i < 0 {
			t.Errorf("%s: no service runs the command %q", ch.name, ch.args[0])
			continue
		}
		getenv := func(k string) string {
			for _, e := range ch.env {
				if e.name == k {
					return e.value
				}
			}
			return ""
		}
		args := append(slices.Clone(ch.args[1:]), "-h")
		err := services()[i].run(context.Background(), args, getenv, io.Discard)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s refuses up's command line %q: %v", ch.name, ch.args, err)
		}
	}
}

// testStore is a store URL with a password in it, and testStoreShown is how up prints it.
const (
	testStore      = "postgres://gradebook:pa55word@db.example:5432/gradebook?sslmode=disable"
	testStoreShown = "postgres://gradebook:xxxxx@db.example:5432/gradebook?sslmode=disable"
)

// TestGradingInstancesNeedPostgres checks that up refuses several grading instances unless they
// share one PostgreSQL database, and names the flags that would fix it.
func TestGradingInstancesNeedPostgres(t *testing.T) {
	for _, tc := range []struct {
		instances int
		store     string
		wantErr   string // "": accepted
	}{
		{1, "", ""},
		{1, "bolt", ""},
		{1, testStore, ""},
		{2, testStore, ""},
		{3, "postgresql://u:p@127.0.0.1/gb", ""},
		{3, "", "-grading-instances 3 needs -store postgres://…: grading instances with separate bbolt files would each hold different data"},
		{2, "bolt", "-grading-instances 2 needs -store postgres://…"},
		{1, "mysql://u:pa55word@db/gb", "-store: want bolt, or a postgres:// or postgresql:// URL"},
		{2, "host=db password=pa55word", "-store: want bolt, or a postgres:// or postgresql:// URL"},
	} {
		_, err := plan(upConfig{host: "127.0.0.1", gradingInstances: tc.instances, store: tc.store})
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("-grading-instances %d -store %q: %v", tc.instances, tc.store, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("-grading-instances %d -store %q: err %v, want %q", tc.instances, tc.store, err, tc.wantErr)
		case err != nil && strings.Contains(err.Error(), "pa55word"):
			t.Errorf("-store %q: the error shows the password: %v", tc.store, err)
		}
	}
}

// TestUpRefusesBeforeStarting runs up itself, with its flags from the environment as a user may
// set them: it refuses before starting anything, and neither its error nor its output shows the
// store's password.
func TestUpRefusesBeforeStarting(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"several bolt instances, from the environment", nil,
			map[string]string{"GRADEBOOK_GRADING_INSTANCES": "2"}, "-grading-instances 2 needs -store postgres://"},
		{"no instance", []string{"-grading-instances", "0"}, nil, "-grading-instances 0: want 1 or more"},
		{"a store up does not know", []string{"-grading-instances", "2"},
			map[string]string{"GRADEBOOK_STORE": "mysql://gradebook:pa55word@db/gb"}, "-store: want"},
		{"ports past 65535", []string{"-grading-instances", "300", "-port-offset", "59000"},
			map[string]string{"GRADEBOOK_STORE": testStore}, "-grading-instances 300 puts grading-269's -listen port at 65536"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			err := up(context.Background(), tc.args, func(k string) string { return tc.env[k] }, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if stdout.Len() > 0 {
				t.Errorf("up printed before refusing:\n%s", stdout.String())
			}
			if all := err.Error() + stderr.String(); strings.Contains(all, "pa55word") {
				t.Errorf("up shows the store's password: %s", all)
			}
		})
	}
}

// TestRestartCommandHidesThePassword checks the command up prints for starting a grading
// instance again by hand: the store in front of it with its password hidden, and every word
// quoted so that a shell reads back exactly up's arguments.
func TestRestartCommandHidesThePassword(t *testing.T) {
	// self stands in for this program: a script in a directory whose name needs quoting, which
	// prints the store it was given and its arguments, one a line.
	self := filepath.Join(t.TempDir(), "it's here", "gradebook")
	if err := os.MkdirAll(filepath.Dir(self), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(self, []byte("#!/bin/sh\nprintf '%s\\n' \"$GRADEBOOK_STORE\" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ store, shown string }{
		{testStore, testStoreShown},
		{"postgresql://gradebook@db/gb?password=pa55word&sslmode=require", "postgresql://gradebook@db/gb?password=xxxxx&sslmode=require"},
		{"postgres://gradebook:pa55word@db/gb?password=pa55word", "postgres://gradebook:xxxxx@db/gb?password=xxxxx"},
	} {
		children, err := plan(upConfig{data: "my data", host: "127.0.0.1", checkInterval: time.Second, gradingInstances: 2, store: tc.store})
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range children {
			for _, a := range ch.args {
				if strings.Contains(a, "pa55word") {
					t.Errorf("%s's command line shows the password: %q", ch.name, ch.args)
				}
			}
			line := ch.commandLine(self)
			if strings.Contains(line, "pa55word") {
				t.Errorf("%s: the printed command shows the password: %s", ch.name, line)
			}
			if ch.service == "grading" && !ch.hidesSecret() {
				t.Errorf("%s: up would not say that the printed command hides a password", ch.name)
			}
			// A shell runs the printed line with the store up shows and exactly up's arguments.
			cmd := exec.Command("sh", "-c", line)
			cmd.Env = []string{}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: sh -c %s: %v", ch.name, line, err)
			}
			store := ""
			if ch.service == "grading" {
				store = tc.shown
			}
			want := append([]string{store}, ch.args...)
			if got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"); !slices.Equal(got, want) {
				t.Errorf("%s: a shell runs the printed command as\n%q\nwant\n%q", ch.name, got, want)
			}
		}
	}
}

func TestPlanRefusesAnOffsetOutOfRange(t *testing.T) {
	for _, off := range []int{60000, -3000} {
		if _, err := plan(upConfig{host: "127.0.0.1", portOffset: off}); err == nil || !strings.Contains(err.Error(), "-port-offset") {
			t.Errorf("-port-offset %d: err %v, want one naming -port-offset", off, err)
		}
	}
}

// TestPlanKeepsGradingInstancesInRange checks where the grading instances' ports end: at -port-offset
// 59000, instance 268's gRPC port is 65535, the last there is, so a 269th is refused.
func TestPlanKeepsGradingInstancesInRange(t *testing.T) {
	c := upConfig{host: "127.0.0.1", portOffset: 59000, gradingInstances: 268, store: testStore}
	children, err := plan(c)
	if err != nil {
		t.Fatalf("268 instances: %v", err)
	}
	last := children[len(children)-2]
	if last.name != "grading-268" || !slices.Equal(last.regs, []registered{{"http", "127.0.0.1:65534"}, {"grpc", "127.0.0.1:65535"}}) {
		t.Errorf("the last instance is %s on %v", last.name, last.regs)
	}
	c.gradingInstances = 269
	want := "-grading-instances 269 puts grading-269's -listen port at 65536 (with -port-offset 59000), outside 1-65535"
	if _, err := plan(c); err == nil || err.Error() != want {
		t.Errorf("269 instances: err %v, want %q", err, want)
	}
}

// TestPlaceAddrsRefusesACollision gives the services a table in which the log service sits where
// the third grading instance would: up refuses, naming both.
func TestPlaceAddrsRefusesACollision(t *testing.T) {
	defaults := []listenAddr{
		{"log", "-listen", "127.0.0.1:6004"},
		{"grading", "-listen", "127.0.0.1:6000"},
		{"grading", "-grpc-listen", "127.0.0.1:6001"},
	}
	if _, err := placeAddrs(defaults, "127.0.0.1", 0, 2); err != nil {
		t.Fatalf("two instances: %v", err)
	}
	want := "-grading-instances 3: log's -listen and grading-3's -listen would both listen on port 6004"
	if _, err := placeAddrs(defaults, "127.0.0.1", 0, 3); err == nil || err.Error() != want {
		t.Errorf("three instances: err %v, want %q", err, want)
	}
}

// TestPassingAt checks how up tells that one process's registration is passing: by the address it
// advertises, not by any instance of its name.
func TestPassingAt(t *testing.T) {
	answer := []byte(`[{"Service":{"ID":"grading-127.0.0.1-6000","Address":"127.0.0.1","Port":6000}},
		{"Service":{"ID":"grading-127.0.0.1-6002","Address":"127.0.0.1","Port":6002}}]`)
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:6000", true},
		{"127.0.0.1:6002", true},
		{"127.0.0.1:6004", false},
		{"127.0.0.2:6000", false},
	} {
		if got := passingAt(answer, tc.addr); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.addr, got, tc.want)
		}
	}
	if passingAt([]byte(`[]`), "127.0.0.1:6000") {
		t.Error("an empty answer lists an instance")
	}
}

// TestChildEnvDropsTheStore checks that a GRADEBOOK_STORE in up's own environment reaches no child
// as such: up sets it for grading alone, to the -store it settled on.
func TestChildEnvDropsTheStore(t *testing.T) {
	got := childEnv([]string{"GRADEBOOK_STORE=" + testStore, "GRADEBOOK_LOG_LEVEL=debug", "GRADEBOOK_LISTEN=:1", "PATH=/bin"})
	if want := []string{"GRADEBOOK_LOG_LEVEL=debug", "PATH=/bin"}; !slices.Equal(got, want) {
		t.Errorf("childEnv = %q, want %q", got, want)
	}
}

// TestUpRefusesTakenPorts: a second up on the ports of a first would find the first's services
// answering its readiness checks; it refuses before starting anything instead.
func TestUpRefusesTakenPorts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	children := []*child{
		{name: "portal", listen: "127.0.0.1:0"},
		{name: "grading", listen: "127.0.0.1:0", args: []string{"-grpc-listen", "127.0.0.1:" + port}},
	}
	err = checkPortsFree(children)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:"+port+" (grading)") || !strings.Contains(err.Error(), "-port-offset") {
		t.Errorf("checkPortsFree with a taken gRPC port = %v; want an error naming it and -port-offset", err)
	}
	children[1].args = nil
	if err := checkPortsFree(children); err != nil {
		t.Errorf("checkPortsFree with free ports = %v", err)
	}
}

// TestUpOpenReachesThePortal: up's -open reaches the portal alone, through its environment.
func TestUpOpenReachesThePortal(t *testing.T) {
	children, err := plan(upConfig{data: "d", host: "0.0.0.0", gradingTransport: "http", checkInterval: time.Second, open: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range children {
		got := slices.ContainsFunc(ch.env, func(e envVar) bool { return e.name == "GRADEBOOK_OPEN" && e.value == "true" })
		if got != (ch.service == "portal") {
			t.Errorf("%s: GRADEBOOK_OPEN=true set %v", ch.name, got)
		}
	}
}

// TestEnsureSessionKey: with -users and no -session-key-file, up makes one key under -data and
// keeps it across runs, so sessions outlive a restart.
func TestEnsureSessionKey(t *testing.T) {
	data := t.TempDir()
	path, err := ensureSessionKey(data)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(data, "portal", "session.key") {
		t.Errorf("key at %s", path)
	}
	first, err := os.ReadFile(path)
	if err != nil || len(first) < 32 {
		t.Fatalf("key file: %q, %v", first, err)
	}
	if _, err := ensureSessionKey(data); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path); string(again) != string(first) {
		t.Error("a second run replaced the session key")
	}
}
