package logging

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/logging/logclient"
	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/pkg/telemetry"
)

func newTestStoreService(t *testing.T, reg *telemetry.Metrics) (*StoreService, *Store) {
	t.Helper()
	store, err := OpenStore(filepath.Join(t.TempDir(), "gradebook.log"), 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return NewService(store, reg), store
}

// TestAppendIdempotency: a batch under a key already stored is acknowledged as a duplicate and
// not stored again; one under a key being stored is refused as a conflict, to be retried.
func TestAppendIdempotency(t *testing.T) {
	svc, store := newTestStoreService(t, nil)
	ctx := context.Background()
	batch := []logclient.Entry{{Time: testNow, Msg: "a"}, {Time: testNow, Msg: "b"}}
	for i, wantDup := range []bool{false, true} {
		dup, err := svc.Append(ctx, "batch-1", batch)
		if err != nil || dup != wantDup {
			t.Fatalf("append %d: duplicate %v, %v; want duplicate %v", i, dup, err, wantDup)
		}
	}
	if n := store.Len(); n != 2 {
		t.Errorf("%d entries stored, want 2", n)
	}
	svc.keys.begin("batch-2") // another call is storing it
	if _, err := svc.Append(ctx, "batch-2", batch); !errors.Is(err, ErrBatchPending) || httpx.StatusOf(err) != http.StatusConflict {
		t.Errorf("a key being stored: %v, want ErrBatchPending (409)", err)
	}
	if _, err := svc.Append(ctx, string(make([]byte, 256)), batch); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("an overlong key: %v, want an ErrInvalid", err)
	}
	if n := store.Len(); n != 2 {
		t.Errorf("%d entries stored, want still 2", n)
	}
}

// TestAppendCountsBySource: entries sent to the service and its own are counted apart, whatever
// route they came by.
func TestAppendCountsBySource(t *testing.T) {
	reg := telemetry.New()
	svc, _ := newTestStoreService(t, reg)
	if _, err := svc.Append(context.Background(), "", []logclient.Entry{{Time: testNow, Msg: "a"}, {Time: testNow, Msg: "b"}}); err != nil {
		t.Fatal(err)
	}
	if err := svc.Logger("log", "127.0.0.1:4000").Log("msg", "own"); err != nil {
		t.Fatal(err)
	}
	for source, want := range map[string]float64{"remote": 2, "self": 1} {
		if got := testkit.MetricValue(t, reg.Gatherer(), "gradebook_log_entries_received_total", "source", source); got != want {
			t.Errorf("entries_received_total{source=%q} = %v, want %v", source, got, want)
		}
	}
}

func TestBatchKeys(t *testing.T) {
	k := newBatchKeys(2)
	if k.begin("a") != keyNew || k.begin("a") != keyPending {
		t.Fatal("a second claim of a key being stored must see it pending")
	}
	k.end("a", false)
	if k.begin("a") != keyNew {
		t.Fatal("a key whose batch failed must be free again")
	}
	k.end("a", true)
	if k.begin("a") != keyDone {
		t.Fatal("a stored key must be remembered")
	}
	for _, key := range []string{"b", "c"} {
		k.begin(key)
		k.end(key, true)
	}
	if k.begin("a") != keyNew {
		t.Error("the oldest key must be forgotten past the bound")
	}
	if len(k.state) > 3 {
		t.Errorf("%d keys remembered, bound 2 (+1 pending)", len(k.state))
	}
}
