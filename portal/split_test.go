package portal

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/grading"
	gradingserver "github.com/gradebook/gradebook/grading/server"
	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/pkg/discovery"
	"github.com/gradebook/gradebook/registry/registrytest"
)

// TestNoSplitViewOfGrading runs two real grading services, each with its own bbolt file (so its
// own store), both registered as grading on one hub, behind the real portal. A grade added
// through /api/v1 is then in every one of 50 reads: the portal uses the instances of one store
// only, where round robin over both would show it one read in two. /status says in plain words
// which store is used, and the second grading instance warned at start that it serves a store of
// its own.
func TestNoSplitViewOfGrading(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end through the hub; skipped with -short")
	}
	hubAddr := registrytest.StartHub(t)
	hub := "http://" + hubAddr
	registry := registrytest.Hub(hubAddr).Client(t)
	// Every service is stopped at once at the end: each waits a few seconds to ship its last log
	// lines to a log service that is not running.
	var stops []context.CancelFunc
	var waits []func()
	defer func() {
		for _, stop := range stops {
			stop()
		}
		for _, wait := range waits {
			wait()
		}
	}()
	startGrading := func(stderr io.Writer) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- gradingserver.Run(ctx, []string{"-listen", "127.0.0.1:0", "-grpc-listen", "127.0.0.1:0", "-registry", hub,
				"-data", t.TempDir(), "-check-interval", "200ms"}, func(string) string { return "" }, stderr)
		}()
		stops = append(stops, cancel)
		waits = append(waits, func() {
			if err := <-done; err != nil {
				t.Errorf("grading: %v", err)
			}
		})
	}
	passing := func(n int) func() bool {
		return func() bool { return len(registrytest.PassingIDs(t, registry, "grading", "http")) == n }
	}

	var first, second testkit.Buffer
	startGrading(&first)
	testkit.Eventually(t, 10*time.Second, "the first grading instance passing", passing(1))
	startGrading(&second)
	testkit.Eventually(t, 10*time.Second, "the second grading instance passing", passing(2))
	testkit.Eventually(t, 10*time.Second, "the second instance's warning about the first one's store", func() bool {
		return strings.Contains(second.String(), "other grading instances serve a different store")
	})
	if !strings.Contains(second.String(), "level=warn") || strings.Contains(first.String(), "serve a different store") {
		t.Errorf("the instance that started second should warn, and only it:\nfirst:\n%s\nsecond:\n%s", first.String(), second.String())
	}

	var portalLog testkit.Buffer
	rt, err := newRuntime([]string{"-listen", "127.0.0.1:0", "-registry", hub, "-check-interval", "200ms"},
		func(string) string { return "" }, &portalLog, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := servePortal(t, rt)
	stops = append(stops, p.cancel)
	waits = append(waits, func() {
		if err := p.stop(t); err != nil {
			t.Errorf("portal: %v", err)
		}
	})
	testkit.Eventually(t, 10*time.Second, "/status saying the instances hold different data", func() bool {
		_, body := p.get("/status")
		return strings.Contains(body, "2 grading instances hold different data")
	})

	// The store the portal must use, by the rule, from what the registry says.
	entries, _, err := registry.Health().Service("grading", "http", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	used := discovery.GroupBy(entries, grading.StoreIDMeta)[0].ID
	if _, body := p.get("/status"); !strings.Contains(body, "only store "+used+" (1 instance) is used.") {
		t.Errorf("/status does not name the store used (%s):\n%s", used, body)
	}

	resp, err := p.client.Post(p.base+"/api/v1/students/2/grades", "application/json",
		strings.NewReader(`{"title":"Only once","type":"Quiz","score":64}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST a grade through the gateway = %d", resp.StatusCode)
	}
	var want []grading.Grade
	for i := range 50 {
		code, body := p.get("/api/v1/students/2")
		var s grading.Student
		if code != 200 || json.Unmarshal([]byte(body), &s) != nil {
			t.Fatalf("read %d: %d %s", i+1, code, body)
		}
		if i == 0 {
			want = s.Grades
			if len(want) == 0 || want[len(want)-1].Title != "Only once" {
				t.Fatalf("read 1 lacks the grade just added: %s", body)
			}
			continue
		}
		if got, _ := json.Marshal(s.Grades); string(got) != mustJSON(t, want) {
			t.Fatalf("read %d saw other grades than read 1:\n%s\nwant %s", i+1, got, mustJSON(t, want))
		}
	}
	// One warning when the split begins, and one more each time it begins again: a machine too
	// busy to answer a health check in time makes an instance leave and come back, which ends
	// the split for a moment ("no longer differ"). What must not happen is a warning repeated
	// while the split lasts.
	logs := portalLog.String()
	warned, ended := strings.Count(logs, "dependency instances differ in their store_id"), strings.Count(logs, "dependency instances no longer differ")
	if warned != ended+1 {
		t.Errorf("the portal warned %d times about the grading instances' stores and said %d times that they no longer differ, want one warning more than endings:\n%s", warned, ended, logs)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
