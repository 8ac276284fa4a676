package registry

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
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
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.wait(context.Background(), "a", c.Index(), time.Minute)
	}()
	other, _, _ := decodeRegistration([]byte(`{"Name":"b"}`))
	if _, _, _, err := c.register(other, nil); err != nil {
		t.Fatal(err)
	}
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
