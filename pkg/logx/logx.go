// Package logx builds the go-kit loggers gradebook's services write with: logfmt on stderr,
// filtered by level, with a timestamp and the service's name, and a fan-out to which a service
// can add sinks (the log shipper) after start-up. It never does I/O of its own beyond its writers.
package logx

import (
	"io"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// New returns a logfmt logger on w that drops entries below lvl ("debug", "info", "warn",
// "error"), stamping each entry with the time and the service name, and the Fanout behind it.
func New(w io.Writer, service, lvl string) (log.Logger, *Fanout) {
	fan := &Fanout{}
	fan.Add(log.NewLogfmtLogger(log.NewSyncWriter(w)))
	var l log.Logger = fan
	l = level.NewFilter(l, Option(lvl))
	l = log.With(l, "ts", Timestamp, "service", service)
	return l, fan
}

// Timestamp stamps an entry with the time in UTC. It yields the time.Time itself, which logfmt
// writes in RFC 3339 with nanoseconds exactly as go-kit's DefaultTimestampUTC does, and which a
// log shipper takes as it is instead of parsing that text back.
var Timestamp = log.Timestamp(func() time.Time { return time.Now().UTC() })

// Option maps a level name ("debug", "info", "warn", "error") to a go-kit level filter option;
// anything else allows info and above.
func Option(lvl string) level.Option {
	return level.Allow(level.ParseDefault(lvl, level.InfoValue()))
}

// Enabled reports whether a logger New made at lvl keeps entries at level v, so that a caller can
// skip building an entry the level filter would drop.
func Enabled(lvl string, v level.Value) bool {
	return rank(v) >= rank(level.ParseDefault(lvl, level.InfoValue()))
}

// rank orders the levels: debug, info, warn, error.
func rank(v level.Value) int {
	switch v {
	case level.DebugValue():
		return 0
	case level.InfoValue():
		return 1
	case level.WarnValue():
		return 2
	}
	return 3
}

// Fanout is a go-kit Logger that passes each entry to every logger added to it.
type Fanout struct {
	mu    sync.RWMutex
	sinks []log.Logger
}

// Add adds a sink; entries logged from now on reach it too.
func (f *Fanout) Add(l log.Logger) {
	f.mu.Lock()
	f.sinks = append(f.sinks, l)
	f.mu.Unlock()
}

// Log implements log.Logger. It returns the first sink's error.
func (f *Fanout) Log(keyvals ...any) error {
	f.mu.RLock()
	sinks := f.sinks
	f.mu.RUnlock()
	var first error
	for _, s := range sinks {
		if err := s.Log(keyvals...); err != nil && first == nil {
			first = err
		}
	}
	return first
}
