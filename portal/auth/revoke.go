package auth

import (
	"sync"
	"time"
)

// Revocations remembers the sessions that signed out before they expired, each until it would
// have expired anyway. It lives in one process: a session ended on one portal instance still
// opens on another until it expires. It is safe for concurrent use.
type Revocations struct {
	mu   sync.Mutex
	ids  map[string]time.Time // session ID → when it expires
	next time.Time            // no entry expires before this; the map is swept then
}

// NewRevocations returns an empty record.
func NewRevocations() *Revocations { return &Revocations{ids: map[string]time.Time{}} }

// Revoke ends s: Revoked answers true for it from now on.
func (r *Revocations) Revoke(s Session, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweep(now)
	exp := s.ExpiresAt()
	if !exp.After(now) {
		return
	}
	r.ids[s.ID] = exp
	if r.next.IsZero() || exp.Before(r.next) {
		r.next = exp
	}
}

// Revoked reports whether s was ended.
func (r *Revocations) Revoked(s Session) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.ids[s.ID]
	return ok
}

// Len is how many ended sessions are remembered.
func (r *Revocations) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ids)
}

// sweep forgets the sessions that have expired by now, once one may have.
func (r *Revocations) sweep(now time.Time) {
	if r.next.IsZero() || now.Before(r.next) {
		return
	}
	r.next = time.Time{}
	for id, exp := range r.ids {
		if !exp.After(now) {
			delete(r.ids, id)
			continue
		}
		if r.next.IsZero() || exp.Before(r.next) {
			r.next = exp
		}
	}
}
