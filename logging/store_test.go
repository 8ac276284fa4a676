package logging

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/logging/logclient"
	"github.com/gradebook/gradebook/pkg/telemetry"
)

// bigEntry is an entry whose encoded line is a little under logclient.MaxEntryBytes.
func bigEntry(i int, service string) logclient.Entry {
	return logclient.Entry{
		Time:    testNow.Add(time.Duration(i) * time.Millisecond),
		Service: service, Instance: "127.0.0.1:6000", Level: "info",
		Msg:    fmt.Sprint("m", i),
		Fields: map[string]json.RawMessage{"pad": json.RawMessage(`"` + strings.Repeat("x", logclient.MaxEntryBytes-512) + `"`)},
	}
}

// windowBytes is the encoded size of every entry the window can answer.
func windowBytes(s *Store) int {
	n := 0
	for _, line := range s.Recent(Query{Limit: DefaultWindow}) {
		n += len(line)
	}
	return n
}

func TestWindowIsBoundedByBytes(t *testing.T) {
	const bound = 1 << 20 // 16 entries of nearly 64 KiB; the count bound alone would allow 10,000
	path := filepath.Join(t.TempDir(), "gradebook.log")
	store, err := OpenStore(path, DefaultWindow, bound)
	if err != nil {
		t.Fatal(err)
	}
	reg := telemetry.New()
	svc := NewService(store, reg)

	// A flood of large entries, in batches, from two services.
	const total = 100 // over six times what the bound lets stay
	for i := 0; i < total; i += 10 {
		batch := make([]logclient.Entry, 10)
		for j := range batch {
			batch[j] = bigEntry(i+j, []string{"grading", "portal"}[(i+j)%2])
		}
		if _, err := store.Append(batch, false); err != nil {
			t.Fatal(err)
		}
		if b := store.Bytes(); b > bound {
			t.Fatalf("after %d entries the window holds %d bytes, over its bound of %d", i+10, b, bound)
		}
	}
	line, _ := bigEntry(0, "grading").MarshalJSON()
	wantLen := bound / len(line)
	if n := store.Len(); n != wantLen {
		t.Errorf("window holds %d entries of %d bytes, want %d (as many as fit in %d bytes)", n, len(line), wantLen, bound)
	}
	if got := windowBytes(store); got != store.Bytes() {
		t.Errorf("Bytes() = %d, but the entries answered add up to %d", store.Bytes(), got)
	}
	if v := testkit.MetricValue(t, reg.Gatherer(), "gradebook_log_window_bytes"); int(v) != store.Bytes() {
		t.Errorf("gradebook_log_window_bytes = %v, want %d", v, store.Bytes())
	}
	t.Logf("%d entries of %d bytes flooded in; the window kept the newest %d, %d bytes (bound %d)",
		total, len(line), store.Len(), store.Bytes(), bound)

	// GET /v1/logs still answers the newest, newest last, and its filters still apply.
	msgs := func(q Query) []string {
		var out []string
		for _, raw := range store.Recent(q) {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprint(m["msg"]))
		}
		return out
	}
	if got, want := strings.Join(msgs(Query{Limit: 3}), ","), "m97,m98,m99"; got != want {
		t.Errorf("newest 3 = %s, want %s", got, want)
	}
	if got, want := strings.Join(msgs(Query{Service: "grading", Limit: 3}), ","), "m94,m96,m98"; got != want {
		t.Errorf("newest 3 of grading = %s, want %s", got, want)
	}
	if got := msgs(Query{Limit: DefaultWindow}); len(got) != wantLen || got[0] != fmt.Sprint("m", total-wantLen) {
		t.Errorf("whole window = %v, want m%d..m%d", got, total-wantLen, total-1)
	}

	// A small entry after the flood evicts only what it must.
	if err := svc.append(sourceRemote, []logclient.Entry{{Time: testNow, Service: "grading", Level: "info", Msg: "small"}}, false); err != nil {
		t.Fatal(err)
	}
	if store.Bytes() > bound || store.Len() < wantLen {
		t.Errorf("after a small entry: %d entries, %d bytes", store.Len(), store.Bytes())
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	// A restart reloads the file's tail within the same bound.
	store, err = OpenStore(path, DefaultWindow, bound)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if b := store.Bytes(); b > bound || b != windowBytes(store) {
		t.Errorf("after restart the window holds %d bytes (answers add up to %d), bound %d", b, windowBytes(store), bound)
	}
	if got := msgs(Query{Limit: 2}); len(got) != 2 || got[1] != "small" || got[0] != "m99" {
		t.Errorf("newest 2 after restart = %v, want m99, small", got)
	}
	t.Logf("after restart: %d entries, %d bytes", store.Len(), store.Bytes())
}

func TestWindowKeepsTheNewestEntryEvenOverTheByteBound(t *testing.T) {
	store, err := OpenStore(filepath.Join(t.TempDir(), "gradebook.log"), 10, 1024)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Append([]logclient.Entry{{Time: testNow, Msg: "small"}, bigEntry(1, "grading")}, false); err != nil {
		t.Fatal(err)
	}
	got := store.Recent(Query{})
	if len(got) != 1 || !strings.Contains(string(got[0]), `"msg":"m1"`) {
		t.Fatalf("window = %d entries, want only the big newest one", len(got))
	}
	if _, err := store.Append([]logclient.Entry{{Time: testNow, Msg: "small again"}}, false); err != nil {
		t.Fatal(err)
	}
	if got := store.Recent(Query{}); len(got) != 1 || !strings.Contains(string(got[0]), "small again") || store.Bytes() != len(got[0]) {
		t.Errorf("window after a small entry = %q (%d bytes), want only it", got, store.Bytes())
	}
}

func TestWindowCountBoundStillHolds(t *testing.T) {
	store, err := OpenStore(filepath.Join(t.TempDir(), "gradebook.log"), 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	for i := range 12 {
		if _, err := store.Append([]logclient.Entry{{Time: testNow, Service: "grading", Level: "info", Msg: fmt.Sprint("m", i)}}, false); err != nil {
			t.Fatal(err)
		}
		if n := store.Len(); n != min(i+1, 5) {
			t.Fatalf("after %d entries the window holds %d, want %d", i+1, n, min(i+1, 5))
		}
	}
	if got := store.Recent(Query{}); len(got) != 5 || !strings.Contains(string(got[0]), `"m7"`) || !strings.Contains(string(got[4]), `"m11"`) {
		t.Errorf("window = %q, want m7..m11", got)
	}
	if store.Bytes() != windowBytes(store) {
		t.Errorf("Bytes() = %d, answers add up to %d", store.Bytes(), windowBytes(store))
	}
}
