package gradingclient

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestCallWorkers: every call gets its own answer, however many run at once; the workers are
// kept and reused between bursts rather than started per call; close ends them all.
func TestCallWorkers(t *testing.T) {
	w := newCallWorkers()
	e := func(ctx context.Context, request any) (any, error) {
		n := request.(int)
		if n%7 == 0 {
			return nil, fmt.Errorf("call %d failed", n)
		}
		time.Sleep(time.Millisecond)
		return n * 2, nil
	}
	before := runtime.NumGoroutine()
	wrapped := w.wrap(func(ctx context.Context, request any) (any, error) {
		return e(ctx, request)
	})
	burst := func(calls int) {
		var wg sync.WaitGroup
		for i := 1; i <= calls; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := wrapped(context.Background(), i)
				switch {
				case i%7 == 0:
					if err == nil || err.Error() != fmt.Sprintf("call %d failed", i) {
						t.Errorf("call %d: got %v, %v; want its error", i, resp, err)
					}
				case err != nil || resp != i*2:
					t.Errorf("call %d: got %v, %v; want %d", i, resp, err, i*2)
				}
			}()
		}
		wg.Wait()
	}
	burst(32)
	workers := runtime.NumGoroutine() - before
	if workers < 1 || workers > 32 {
		t.Fatalf("%d workers after 32 calls at once, want 1 to 32", workers)
	}
	// Calls one after another reuse an idle worker: no goroutine is added.
	for i := 1; i <= 50; i++ {
		if _, err := wrapped(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
	}
	if now := runtime.NumGoroutine() - before; now > workers {
		t.Errorf("%d workers after 50 calls in a row, had %d: calls in a row should reuse one", now, workers)
	}
	w.close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left after close, want %d", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// After close a call still runs, and leaves nothing behind.
	if resp, err := wrapped(context.Background(), 3); err != nil || resp != 6 {
		t.Fatalf("call after close: %v, %v", resp, err)
	}
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("a call after close left a goroutine")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCallWorkersPassTheContext: the call sees the caller's context, deadline and values.
func TestCallWorkersPassTheContext(t *testing.T) {
	w := newCallWorkers()
	defer w.close()
	type key struct{}
	wrapped := w.wrap(func(ctx context.Context, _ any) (any, error) {
		<-ctx.Done()
		return ctx.Value(key{}), ctx.Err()
	})
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), key{}, "v"), 20*time.Millisecond)
	defer cancel()
	resp, err := wrapped(ctx, nil)
	if resp != "v" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, %v; want v, deadline exceeded", resp, err)
	}
}
