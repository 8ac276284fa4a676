package logx

import (
	"io"
	"sync"
)

// DefaultCoalesceBytes is the most a CoalescingWriter holds while a write is in progress.
const DefaultCoalesceBytes = 256 << 10

// CoalescingWriter passes whole lines (or any writes) to w in order, gathering the ones that
// arrive while a write is in progress into the next write: when idle, a Write goes straight to
// w; under load, many lines go out in one write(2), and a reader of a pipe reads them in fewer
// chunks. There is no goroutine of its own: the caller that finds no write in progress writes,
// then keeps writing what others have appended meanwhile until nothing is left, and those others
// return at once. A Write never splits or reorders what it was given, and w is written by one
// goroutine at a time, so no other lock is needed around it.
//
// It is bounded: a Write that would take what is held past its limit waits until the write in
// progress has taken it, rather than drop anything. Lines a Write has returned from may still be
// held for the length of one write in progress; if the process is killed (kill -9) at that
// moment, those are lost, at most the lines of a few milliseconds. A clean exit loses nothing:
// every Write's line has been written, by it or by the writer in progress, before Flush returns.
//
// An error writing lines gathered from other callers is returned by no Write (they have
// returned already); it is kept and reported by Flush.
type CoalescingWriter struct {
	w   io.Writer
	max int

	mu      sync.Mutex
	changed sync.Cond // a write in progress took what was held, or finished
	held    []byte    // what Writes appended while a write was in progress
	spare   []byte
	writing bool
	err     error
}

// NewCoalescingWriter returns a CoalescingWriter on w that holds at most max bytes (0:
// DefaultCoalesceBytes) besides the write in progress.
func NewCoalescingWriter(w io.Writer, max int) *CoalescingWriter {
	if max <= 0 {
		max = DefaultCoalesceBytes
	}
	c := &CoalescingWriter{w: w, max: max}
	c.changed.L = &c.mu
	return c
}

// Write implements io.Writer.
func (c *CoalescingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	for c.writing && len(c.held) > 0 && len(c.held)+len(p) > c.max {
		c.changed.Wait()
	}
	if c.writing {
		c.held = append(c.held, p...)
		c.mu.Unlock()
		return len(p), nil
	}
	c.writing = true
	c.mu.Unlock()
	// Nothing is held while no write is in progress: p goes first, as it is, without a copy.
	_, err := c.w.Write(p)
	c.mu.Lock()
	for len(c.held) > 0 {
		out := c.held
		c.held = c.spare[:0]
		c.mu.Unlock()
		c.changed.Broadcast()
		_, werr := c.w.Write(out)
		c.mu.Lock()
		if werr != nil && c.err == nil {
			c.err = werr
		}
		if cap(out) <= 4*c.max {
			c.spare = out[:0]
		}
	}
	c.writing = false
	c.mu.Unlock()
	c.changed.Broadcast()
	return len(p), err
}

// Flush waits until every Write that has returned has had its bytes written, and returns the
// first error met writing bytes gathered from other callers, if any.
func (c *CoalescingWriter) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.writing {
		c.changed.Wait()
	}
	return c.err
}
