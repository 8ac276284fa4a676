package netx_test

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gradebook/gradebook/internal/testkit"
	"github.com/gradebook/gradebook/pkg/netx"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testkit.LeakOptions()...) }

// TestPastTheLimitIsClosedAtOnce fills a listener limited to two connections, then dials a
// third: it is closed at once (not left waiting in the backlog) and counted, and once one of the
// first two closes there is room again.
func TestPastTheLimitIsClosedAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := netx.LimitListener(ln, 2)
	defer lim.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := lim.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", lim.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, <-accepted)
	}
	if lim.Open() != 2 {
		t.Fatalf("%d open, want 2", lim.Open())
	}

	extra, err := net.Dial("tcp", lim.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = extra.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("a connection past the limit read %v, want it closed at once", err)
	}
	if !errors.Is(err, io.EOF) {
		t.Logf("the refused connection ended with %v", err)
	}
	testkit.Eventually(t, 5*time.Second, "the refusal counted", func() bool { return lim.Rejected() == 1 })

	// A connection closed twice gives back one place only.
	held[0].Close()
	held[0].Close()
	if lim.Open() != 1 {
		t.Fatalf("%d open after one closed, want 1", lim.Open())
	}
	again, err := net.Dial("tcp", lim.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	c, ok := <-accepted
	if !ok {
		t.Fatal("the listener stopped")
	}
	defer c.Close()
	defer held[1].Close()
	if lim.Rejected() != 1 || lim.Open() != 2 {
		t.Errorf("rejected %d, open %d; want 1 and 2", lim.Rejected(), lim.Open())
	}
}

func TestCapToFileLimit(t *testing.T) {
	limit, ok := netx.FileLimit()
	if !ok {
		t.Skip("the open-file limit is not known here")
	}
	if got, lowered := netx.CapToFileLimit(10); got != 10 || lowered {
		t.Errorf("CapToFileLimit(10) = %d, %v under a limit of %d", got, lowered, limit)
	}
	got, lowered := netx.CapToFileLimit(int(limit) + 1)
	if !lowered || uint64(got) >= limit {
		t.Errorf("CapToFileLimit(limit+1) = %d, %v under a limit of %d; want it lowered below the limit", got, lowered, limit)
	}
}
