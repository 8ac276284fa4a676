package logx

import (
	"bytes"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// TestTimestampPrintsAsDefaultTimestampUTC: the stderr lines read as they did with go-kit's
// DefaultTimestampUTC, to the nanosecond, for times with and without a fraction.
func TestTimestampPrintsAsDefaultTimestampUTC(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(2026, 11, 30, 7, 48, 1, 123456789, time.FixedZone("x", 3600)),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 500000000, time.Local),
	} {
		// Valuers are called by log.With's logger, as New binds Timestamp.
		var ours, gokit bytes.Buffer
		_ = log.With(log.NewLogfmtLogger(&ours), "ts", log.Timestamp(func() time.Time { return at.UTC() })).Log()
		_ = log.With(log.NewLogfmtLogger(&gokit), "ts", log.TimestampFormat(func() time.Time { return at.UTC() }, time.RFC3339Nano)).Log()
		if ours.String() != gokit.String() {
			t.Errorf("%v: %q, DefaultTimestampUTC writes %q", at, ours.String(), gokit.String())
		}
	}
	if _, ok := Timestamp().(time.Time); !ok {
		t.Errorf("Timestamp yields %T, want a time.Time", Timestamp())
	}
}

func TestEnabled(t *testing.T) {
	levels := []level.Value{level.DebugValue(), level.InfoValue(), level.WarnValue(), level.ErrorValue()}
	for _, lvl := range []string{"debug", "info", "warn", "error", "DEBUG", "nonsense", ""} {
		var buf bytes.Buffer
		l, _ := New(&buf, "x", lvl)
		for _, v := range levels {
			buf.Reset()
			log.WithPrefix(l, level.Key(), v).Log("msg", "m")
			if kept := buf.Len() > 0; Enabled(lvl, v) != kept {
				t.Errorf("Enabled(%q, %s) = %v, but the logger kept the entry: %v", lvl, v, !kept, kept)
			}
		}
	}
}
