package registry

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/gradebook/gradebook/internal/testkit"
)

// settledRunners polls the number of running check runners until it is the number of checks in
// h's catalog, for up to 5 s, and returns what the poll saw last. Both are read on each poll: the
// hub registers itself in its own catalog while it starts, so its check may arrive after the
// test's. An orphan's next result is a minute away, so it would still be running at the deadline;
// a stopped runner may take a moment to notice. Judge by what the poll saw: under load a dump
// taken just after has been seen to read high for a moment, which says nothing about orphans,
// since an orphan never lets the count settle.
func settledRunners(h *testHub) (got, want int) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		want = len(h.cat.allChecks())
		got = goroutines("registry.(*Checker).run(")
		if got == want || !time.Now().Before(deadline) {
			return got, want
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConcurrentReregistrationLeavesOneRunner registers one ID again and again from many
// goroutines at once. Whatever order their catalog updates and runner starts and stops take,
// what is left running is one runner per check in the catalog.
func TestConcurrentReregistrationLeavesOneRunner(t *testing.T) {
	h := startHub(t)
	tg := newTarget(t, 200)
	const workers, rounds = 16, 40
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				// An HTTP check with a long interval and a TTL check: both kinds of runner wait
				// for a long time between results, so an orphan would stay.
				body := fmt.Sprintf(`{"Name":"churn","ID":"churn-1","Port":%d,"Checks":[{"HTTP":%q,"Interval":"1m"},{"TTL":"1m"}]}`, w*rounds+i, tg.URL)
				svc, checks, err := decodeRegistration([]byte(body))
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := h.register(svc, checks); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, want := settledRunners(h) // the hub's own check and churn-1's two
	if got != want {
		t.Errorf("%d check runners running after %d concurrent re-registrations, want %d", got, workers*rounds, want)
	}
	h.checker.mu.Lock()
	runners := len(h.checker.runners)
	h.checker.mu.Unlock()
	if runners != want {
		t.Errorf("the checker tracks %d runners, want %d", runners, want)
	}
}

// TestStartOfAReplacedCheckRunsNothing plays the losing interleaving of two registrations of
// one ID in order: the second registration replaces the first's check and stops it before the
// first gets round to starting it.
func TestStartOfAReplacedCheckRunsNothing(t *testing.T) {
	h := startHub(t)
	reg := func() []*checkState {
		svc, checks, err := decodeRegistration([]byte(`{"Name":"race","Check":{"TTL":"1m"}}`))
		if err != nil {
			t.Fatal(err)
		}
		_, added, _, err := h.cat.register(svc, checks)
		if err != nil {
			t.Fatal(err)
		}
		return added
	}
	first := reg()
	second := reg()
	h.checker.stop(first[0])
	h.checker.start(second[0])
	h.checker.start(first[0]) // too late: first is no longer in the catalog
	got, want := settledRunners(h)
	if got != want {
		t.Errorf("%d check runners for %d checks", got, want)
	}
}

// TestHeldResultsAreLogged checks that a result a check's thresholds hold back is logged, as
// Consul logs it, with how many have come in a row and how many it takes, and that the change it
// leads to is logged as every status change is.
func TestHeldResultsAreLogged(t *testing.T) {
	var logs testkit.Buffer
	h := startHubLoggingTo(t, &logs)
	tg := newTarget(t, 200)
	c := consulClient(t, h.URL(), "")
	if err := c.Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: "held-1", Name: "held", Port: 1,
		Check: &api.AgentServiceCheck{CheckID: "held-check", HTTP: tg.URL, Interval: "100ms", FailuresBeforeCritical: 3},
	}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "the check passing", func() bool { return checkStatus(t, c, "held-check") == api.HealthPassing })
	tg.status.Store(500)
	testkit.Eventually(t, 5*time.Second, "the check critical", func() bool { return checkStatus(t, c, "held-check") == api.HealthCritical })
	out := logs.String()
	for _, want := range []string{
		`msg="check failed; its status holds until enough failures in a row" service_id=held-1 check=held-check result=critical in_a_row=1 threshold=3`,
		`msg="check failed; its status holds until enough failures in a row" service_id=held-1 check=held-check result=critical in_a_row=2 threshold=3`,
		`msg="check status changed" service_id=held-1 check=held-check from=passing to=critical`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the hub's log has no line with\n\t%s\nlog:\n%s", want, out)
		}
	}
}
