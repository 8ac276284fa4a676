package pgtest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a testing.TB that records how AdminURL ended the test instead of ending it.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Fatalf(format string, a ...any) { r.fatal = format }
func (r *recorder) Skipf(format string, a ...any)  { r.skip = format }

// TestWithoutAServer: with no server named, a PostgreSQL test fails under CI and skips, saying
// what to set, elsewhere.
func TestWithoutAServer(t *testing.T) {
	for _, tc := range []struct {
		ci                 string
		wantFail, wantSkip string
	}{
		{ci: "true", wantFail: "PostgreSQL is required under CI: set %s"},
		{ci: "", wantSkip: "Set %s to the URL of a role that may create databases"},
	} {
		t.Setenv(EnvURL, "")
		t.Setenv("CI", tc.ci)
		r := &recorder{TB: t}
		AdminURL(r)
		if !strings.Contains(r.fatal, tc.wantFail) || tc.wantFail == "" && r.fatal != "" {
			t.Errorf("CI=%q: failed with %q, want %q", tc.ci, r.fatal, tc.wantFail)
		}
		if tc.wantSkip != "" && !strings.Contains(r.skip, tc.wantSkip) {
			t.Errorf("CI=%q: skipped with %q, want %q", tc.ci, r.skip, tc.wantSkip)
		}
	}
}

// TestProxy runs the proxy in front of an echo server: it forwards, then a cut closes every
// connection and refuses new ones, a stall leaves new ones unanswered, and a restore forwards
// again.
func TestProxy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var served []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			served = append(served, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(c, c) })
		}
	})
	defer func() {
		ln.Close()
		mu.Lock()
		for _, c := range served {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}()
	p := NewProxy(t, "postgres://u:p@"+ln.Addr().String()+"/db")
	if u := p.URL("postgres://u:p@" + ln.Addr().String() + "/db"); !strings.Contains(u, p.ln.Addr().String()) || !strings.HasPrefix(u, "postgres://u:p@") {
		t.Errorf("URL() = %s, want the proxy's address in the database URL", u)
	}

	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", p.ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// echo answers what comes back for one line, or the error after a short wait.
	echo := func(c net.Conn) (string, error) {
		c.SetDeadline(time.Now().Add(500 * time.Millisecond))
		if _, err := io.WriteString(c, "ping\n"); err != nil {
			return "", err
		}
		return bufio.NewReader(c).ReadString('\n')
	}
	timedOut := func(err error) bool {
		var ne net.Error
		return errors.As(err, &ne) && ne.Timeout()
	}

	open := dial()
	if got, err := echo(open); got != "ping\n" {
		t.Fatalf("through the proxy: %q, %v", got, err)
	}
	p.Cut()
	if _, err := echo(open); err == nil || timedOut(err) {
		t.Errorf("an open connection after Cut: %v, want it closed", err)
	}
	if _, err := echo(dial()); err == nil || timedOut(err) {
		t.Errorf("a new connection after Cut: %v, want it closed", err)
	}
	p.Stall()
	if _, err := echo(dial()); !timedOut(err) {
		t.Errorf("a new connection after Stall: %v, want no answer", err)
	}
	p.Restore()
	if got, err := echo(dial()); got != "ping\n" {
		t.Errorf("after Restore: %q, %v", got, err)
	}
}
