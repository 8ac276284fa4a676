package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPlan checks the command lines up gives its children: each service's own default port moved
// by -port-offset on -host, every flag named once, and nothing a service's flags would refuse.
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.change(&c)
			children, err := plan(c)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ch := range children {
				got = append(got, strings.Join(ch.args, " "))
				if want := ch.args[slices.Index(ch.args, "-listen")+1]; ch.listen != want {
					t.Errorf("%s: up polls %s, but the child listens on %s", ch.name, ch.listen, want)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("command lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}

	// Every service accepts the flags up gives it: its own parser, stopped by -h before it starts.
	children, err := plan(upConfig{data: t.TempDir(), host: "127.0.0.1", token: "t", gradingTransport: "grpc", checkInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range children {
		i := slices.IndexFunc(services(), func(s serviceCommand) bool { return s.name == ch.args[0] })
		if i < 0 {
			t.Errorf("%s: no service runs the command %q", ch.name, ch.args[0])
			continue
		}
		args := append(slices.Clone(ch.args[1:]), "-h")
		err := services()[i].run(context.Background(), args, func(string) string { return "" }, io.Discard)
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s refuses up's command line %q: %v", ch.name, ch.args, err)
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
