package pgtest

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// Proxy is a TCP proxy on 127.0.0.1 in front of a PostgreSQL server. A store opened on URL
// reaches the server through it, and the test decides when it can: Cut and Stall make the
// database unreachable in two ways a network can, Restore makes it reachable again. It stops when
// the test ends.
type Proxy struct {
	target string
	ln     net.Listener
	wg     sync.WaitGroup

	mu    sync.Mutex
	state state
	conns map[net.Conn]struct{} // both ends of every connection open through the proxy
}

type state int

const (
	passing  state = iota // connections are forwarded
	refusing              // a new connection is closed at once; the server seems to be gone
	stalling              // a new connection is accepted and never answered; the network seems to hang
)

// NewProxy starts a proxy to the server of the database URL dbURL.
func NewProxy(t testing.TB, dbURL string) *Proxy {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil || u.Host == "" {
		t.Fatal("pgtest.NewProxy: the database URL has no host")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{target: u.Host, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

// URL answers dbURL with the proxy in place of the server's address.
func (p *Proxy) URL(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return ""
	}
	u.Host = p.ln.Addr().String()
	return u.String()
}

// Cut breaks every connection through the proxy and closes each new one as soon as it arrives:
// what a client sees of a server that went down.
func (p *Proxy) Cut() { p.set(refusing) }

// Stall breaks every connection through the proxy and leaves each new one unanswered: what a
// client sees of a network that drops packets. Only the client's own timeouts end its wait.
func (p *Proxy) Stall() { p.set(stalling) }

// Restore forwards new connections again (and drops those a stall held).
func (p *Proxy) Restore() { p.set(passing) }

func (p *Proxy) set(s state) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = s
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *Proxy) close() {
	p.ln.Close()
	p.set(refusing)
	p.wg.Wait()
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		s := p.state
		if s == refusing {
			c.Close()
		} else {
			p.conns[c] = struct{}{}
		}
		p.mu.Unlock()
		if s == passing {
			p.wg.Add(1)
			go p.forward(c)
		}
	}
}

// forward joins the client connection c to a new connection to the server until either ends or
// the proxy breaks them.
func (p *Proxy) forward(c net.Conn) {
	defer p.wg.Done()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		p.drop(c)
		return
	}
	p.mu.Lock()
	if _, open := p.conns[c]; !open { // broken while dialling
		p.mu.Unlock()
		up.Close()
		return
	}
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	p.drop(c, up)
	<-done
}

func (p *Proxy) drop(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		c.Close()
		delete(p.conns, c)
	}
}
