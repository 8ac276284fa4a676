package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/testkit"
)

// Blocking queries on names that never change must not leave anything behind.
func TestWaitersAreForgotten(t *testing.T) {
	c := newCatalog()
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.wait(context.Background(), fmt.Sprint("nobody-", i%10), 1, 20*time.Millisecond)
		}()
	}
	wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.watchers) != 0 {
		t.Fatalf("%d watches left after every waiter timed out", len(c.watchers))
	}
}

func TestWaitWakesOnItsNameOnly(t *testing.T) {
	c := newCatalog()
	svc, checks, err := decodeRegistration([]byte(`{"Name":"a"}`))
	if err != nil {
		t.Fatal(err)
	}
	idx := c.Index()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.wait(context.Background(), "a", idx, time.Minute)
	}()
	testkit.Eventually(t, 5*time.Second, "the query waiting on a", func() bool { return parked(c, "a") })
	other, _, _ := decodeRegistration([]byte(`{"Name":"b"}`))
	if _, _, _, err := c.register(other, nil); err != nil {
		t.Fatal(err)
	}
	// Nothing is meant to happen here: a short wait lets a wrong wake-up show.
	select {
	case <-done:
		t.Fatal("a change to b woke a query on a")
	case <-time.After(20 * time.Millisecond):
	}
	if _, _, _, err := c.register(svc, checks); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a change to a did not wake the query on a")
	}
}

// Only a status change is a change that blocking queries see; a new output is stored in place.
func TestOutputOnlyUpdatesDoNotBumpTheIndex(t *testing.T) {
	c := newCatalog()
	svc, checks, err := decodeRegistration([]byte(`{"Name":"a","Check":{"TTL":"1m","Status":"passing"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.register(svc, checks); err != nil {
		t.Fatal(err)
	}
	before := c.Index()
	if err := c.updateTTL("service:a", "passing", "still fine"); err != nil {
		t.Fatal(err)
	}
	if got := c.Index(); got != before {
		t.Errorf("an output-only update moved the index from %d to %d", before, got)
	}
	if checks, _ := c.agentChecks(); checks["service:a"].Output != "still fine" {
		t.Errorf("output = %q, want the update's", checks["service:a"].Output)
	}
	if err := c.updateTTL("service:a", "critical", "down"); err != nil {
		t.Fatal(err)
	}
	if got := c.Index(); got <= before {
		t.Errorf("a status change left the index at %d", got)
	}
}

// A name whose last instance has left is forgotten, so that the catalog does not grow with
// every name ever registered; a client that asks about it again never sees its index go back,
// and a query blocked on it wakes when it goes.
func TestNamesAreForgottenWhenTheirLastInstanceLeaves(t *testing.T) {
	c := newCatalog()
	reg := func(id, name string) {
		t.Helper()
		svc, checks, err := decodeRegistration([]byte(fmt.Sprintf(`{"ID":%q,"Name":%q}`, id, name)))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := c.register(svc, checks); err != nil {
			t.Fatal(err)
		}
	}
	dereg := func(id string) {
		t.Helper()
		if _, _, err := c.deregister(id); err != nil {
			t.Fatal(err)
		}
	}
	index := func(name string) uint64 {
		_, i := c.serviceEntries(name, nil, false)
		return i
	}
	var seen uint64 // the highest index a client has seen for "x"
	look := func(when string) {
		t.Helper()
		i := index("x")
		if i < seen {
			t.Fatalf("%s: the index of x went back from %d to %d", when, seen, i)
		}
		seen = i
	}

	look("never registered")
	reg("x-1", "x")
	reg("x-2", "x")
	look("two instances")
	woken := make(chan struct{})
	go func() {
		defer close(woken)
		c.wait(context.Background(), "x", seen, time.Minute)
	}()
	testkit.Eventually(t, 5*time.Second, "the query waiting on x", func() bool { return parked(c, "x") })
	dereg("x-1")
	<-woken // one instance left: a change all the same
	look("one instance")

	woken = make(chan struct{})
	go func() {
		defer close(woken)
		c.wait(context.Background(), "x", seen, time.Minute)
	}()
	testkit.Eventually(t, 5*time.Second, "the query waiting on x", func() bool { return parked(c, "x") })
	dereg("x-2")
	select {
	case <-woken:
	case <-time.After(5 * time.Second):
		t.Fatal("a query blocked on x slept on after its last instance left")
	}
	look("no instance")

	// Churn through many other names, and move x to another name.
	for i := range 100 {
		reg(fmt.Sprint("other-", i), fmt.Sprint("other-", i))
		look("others registered")
		dereg(fmt.Sprint("other-", i))
		look("others gone")
	}
	reg("x-3", "x")
	look("x back")
	reg("x-3", "y") // the same ID under another name: x has no instance left
	look("x renamed to y")

	c.mu.Lock()
	names := len(c.names)
	c.mu.Unlock()
	if names != 1 {
		t.Errorf("the catalog holds %d names for 1 live one", names)
	}
	snap, err := c.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var stored storedCatalog
	if err := json.Unmarshal(snap, &stored); err != nil {
		t.Fatal(err)
	}
	if len(stored.Names) != 1 || stored.Names["y"] == 0 {
		t.Errorf("saved names = %v, want y only", stored.Names)
	}

	// A blocking query on a name nobody has does not wake for changes to other names.
	unknown := index("nobody")
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.wait(context.Background(), "nobody", unknown, time.Minute)
	}()
	testkit.Eventually(t, 5*time.Second, "the query waiting on nobody", func() bool { return parked(c, "nobody") })
	reg("z-1", "z")
	// Nothing is meant to happen here: a short wait lets a wrong wake-up show.
	select {
	case <-done:
		t.Error("a change to z woke a query on a name nobody has")
	case <-time.After(20 * time.Millisecond):
	}
	reg("nobody-1", "nobody")
	<-done
}

// Once the catalog drains, as the hub does when it stops, a blocking query answers at once:
// one already waiting, and one that comes later.
func TestDrainAnswersBlockingQueries(t *testing.T) {
	c := newCatalog()
	idx := c.Index()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.wait(context.Background(), "a", idx, time.Minute)
	}()
	testkit.Eventually(t, 5*time.Second, "the query waiting on a", func() bool { return parked(c, "a") })
	c.drain()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a waiting query slept on after the catalog drained")
	}
	later := make(chan struct{})
	go func() {
		defer close(later)
		c.wait(context.Background(), "", idx, time.Minute)
	}()
	select {
	case <-later:
	case <-time.After(5 * time.Second):
		t.Fatal("a query that came after the drain waited")
	}
}
