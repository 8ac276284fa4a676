package netx

import (
	"net"
	"sync"
	"sync/atomic"
)

// Limiter is a listener that holds at most Max connections open at once.
//
// Past the limit, a new connection is accepted and closed at once, and counted in Rejected;
// Accept then waits for the next one. It is not left waiting in the kernel's backlog, as
// golang.org/x/net/netutil.LimitListener leaves it by not calling Accept: a backlog that fills
// quietly makes every new client time out, and hides the overload from health checks that dial
// afresh, which would otherwise see a connection open and a request that never gets an answer
// only when their timeout runs out. A refused client sees its connection closed (an EOF or a
// reset) right away, the refusals show on /metrics, and a check that dials afresh fails at
// once. Connections already open are untouched: they go on being served until they close, which
// the servers' read and idle timeouts make sure of.
type Limiter struct {
	net.Listener
	max      int64
	open     atomic.Int64
	rejected atomic.Uint64
}

// LimitListener returns ln limited to n open connections (at least 1).
func LimitListener(ln net.Listener, n int) *Limiter {
	return &Limiter{Listener: ln, max: int64(max(n, 1))}
}

// Accept returns the next connection while fewer than the limit are open; a connection past the
// limit is closed, counted, and not returned.
func (l *Limiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			l.rejected.Add(1)
			c.Close()
			continue
		}
		return &limitedConn{Conn: c, l: l}, nil
	}
}

// Max is the limit.
func (l *Limiter) Max() int { return int(l.max) }

// Open is the number of connections accepted and not yet closed.
func (l *Limiter) Open() int { return int(l.open.Load()) }

// Rejected counts the connections closed at once because the limit was reached.
func (l *Limiter) Rejected() uint64 { return l.rejected.Load() }

// limitedConn gives its place back when it is closed, once however often Close is called.
type limitedConn struct {
	net.Conn
	l    *Limiter
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}

// CloseWrite passes a half-close through, which net/http uses to let a client read an error
// answer (a 413, say) before the connection is closed on a body it did not read; without it the
// client could get a reset instead of the answer.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
