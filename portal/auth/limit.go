package auth

import (
	"sync"
	"time"
)

// maxTracked bounds how many keys a FailureLimiter remembers, so that a flood of sign-ins from
// ever new addresses or names cannot grow it without end. Past it, the oldest windows are
// forgotten first.
const maxTracked = 100_000

// FailureLimiter counts failed sign-ins per key (a user's name, a client's address) in a fixed
// window that starts at the first failure: once a key has Max failures in its window it is
// blocked until the window ends. It is safe for concurrent use.
type FailureLimiter struct {
	max    int
	window time.Duration
	mu     sync.Mutex
	keys   map[string]*failures
}

type failures struct {
	count int
	until time.Time // the end of the window
}

// NewFailureLimiter allows max failures per key within window.
func NewFailureLimiter(max int, window time.Duration) *FailureLimiter {
	return &FailureLimiter{max: max, window: window, keys: map[string]*failures{}}
}

// Blocked reports how long key must still wait before it may try again, or 0 if it may now.
func (l *FailureLimiter) Blocked(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.keys[key]
	if !ok {
		return 0
	}
	if !now.Before(f.until) {
		delete(l.keys, key)
		return 0
	}
	if f.count < l.max {
		return 0
	}
	return f.until.Sub(now)
}

// Fail records a failure of key at now.
func (l *FailureLimiter) Fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.keys[key]
	if !ok || !now.Before(f.until) {
		if len(l.keys) >= maxTracked {
			l.forget(now)
		}
		f = &failures{until: now.Add(l.window)}
		l.keys[key] = f
	}
	f.count++
}

// Reset forgets key's failures.
func (l *FailureLimiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.keys, key)
}

// forget drops the windows that have ended, and if that is not enough, the ones that end
// soonest, until a quarter of the room is free.
func (l *FailureLimiter) forget(now time.Time) {
	for k, f := range l.keys {
		if !now.Before(f.until) {
			delete(l.keys, k)
		}
	}
	cutoff := now.Add(l.window / 2)
	for len(l.keys) > maxTracked*3/4 {
		for k, f := range l.keys {
			if f.until.Before(cutoff) {
				delete(l.keys, k)
			}
		}
		cutoff = cutoff.Add(max(l.window/4, time.Second))
	}
}
