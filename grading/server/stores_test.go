package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/registry/registrytest"
)

// TestRunWarnsOfInstancesWithAnotherStore starts the service on the real hub where two grading
// instances that serve another store are already registered: consumers will use theirs, and the
// service says so once at start, in plain words.
func TestRunWarnsOfInstancesWithAnotherStore(t *testing.T) {
	hub := registrytest.Hub(registrytest.StartHub(t))
	c := hub.Client(t)
	for port := 7101; port <= 7102; port++ {
		r := registrytest.PassingReg(fmt.Sprintf("grading-other-%d", port), DefaultName, port)
		r.Tags = []string{"http"}
		r.Meta = map[string]string{grading.StoreIDMeta: "bolt-other", grading.StoreKindMeta: "bolt"}
		registrytest.Register(t, c, r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr testkit.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"-listen", "127.0.0.1:0", "-grpc-listen", "127.0.0.1:0", "-data", t.TempDir(), "-registry", hub.URL(),
			"-check-interval", "200ms"}, func(string) string { return "" }, &stderr)
	}()
	const warning = "other grading instances serve a different store, and consumers use theirs: this instance will get no requests."
	testkit.Eventually(t, 10*time.Second, "the warning", func() bool { return strings.Contains(stderr.String(), warning) })
	stopRun(t, cancel, done, &stderr, 15*time.Second)
	var line string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, "serve a different store") {
			if line != "" {
				t.Errorf("warned twice:\n%s\n%s", line, l)
			}
			line = l
		}
	}
	if !strings.Contains(line, "level=warn") || !strings.Contains(line, "used_store=bolt-other") ||
		!strings.Contains(line, `stores="bolt-other: 2 instances (used); bolt-`) {
		t.Errorf("the warning does not say which store is used and what there is:\n%s", line)
	}
}
