package grpcx_test

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/gradebook/gradebook/pkg/grpcx"
)

// serveGRPC serves a gRPC server with ServerOptions (and the health service) until the test ends.
func serveGRPC(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpcx.ServerOptions("", nil)...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return ln.Addr().String()
}

// h2conn opens a bare HTTP/2 connection to addr, as a client with its own ideas would, and reads
// the server's settings.
func h2conn(t *testing.T, addr string) (net.Conn, *http2.Framer, *http2.SettingsFrame) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("read the server's settings: %v", err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			if err := fr.WriteSettingsAck(); err != nil {
				t.Fatal(err)
			}
			return conn, fr, sf
		}
	}
}

// TestStreamsAreBounded: the server tells every client how many calls it may have in flight on
// one connection, instead of grpc-go's unbounded default.
func TestStreamsAreBounded(t *testing.T) {
	_, _, settings := h2conn(t, serveGRPC(t))
	got, ok := settings.Value(http2.SettingMaxConcurrentStreams)
	if !ok || got != grpcx.MaxConcurrentStreams {
		t.Errorf("SETTINGS_MAX_CONCURRENT_STREAMS = %d (sent: %v), want %d", got, ok, grpcx.MaxConcurrentStreams)
	}
}

// TestTooManyPingsGoAway is a client that pings as fast as it can: the server sends GOAWAY
// (ENHANCE_YOUR_CALM, "too_many_pings") and closes the connection.
func TestTooManyPingsGoAway(t *testing.T) {
	_, fr, _ := h2conn(t, serveGRPC(t))
	pings := 0
	for {
		if pings < 10 {
			if err := fr.WritePing(false, [8]byte{byte(pings)}); err != nil {
				t.Fatalf("after %d pings: %v", pings, err)
			}
			pings++
		}
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("after %d pings, the connection ended without GOAWAY: %v", pings, err)
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			if ga.ErrCode != http2.ErrCodeEnhanceYourCalm || string(ga.DebugData()) != "too_many_pings" {
				t.Errorf("GOAWAY %v %q, want ENHANCE_YOUR_CALM too_many_pings", ga.ErrCode, ga.DebugData())
			}
			t.Logf("figure: GOAWAY too_many_pings after %d pings", pings)
			return
		}
	}
}

// TestSilentConnectionIsClosed is a client that connects and never says a word: it is closed once
// HandshakeTimeout has passed.
func TestSilentConnectionIsClosed(t *testing.T) {
	conn, err := net.Dial("tcp", serveGRPC(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	begin := time.Now()
	if err := conn.SetReadDeadline(begin.Add(grpcx.HandshakeTimeout + 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("a silent connection is still open %v later", time.Since(begin).Round(time.Millisecond))
	}
	t.Logf("figure: a silent connection closed after %v", time.Since(begin).Round(time.Millisecond))
}

// TestClientKeepaliveIsWithinPolicy: the connections Dial makes ping no more often than the
// servers allow, or they would be sent away with too_many_pings.
func TestClientKeepaliveIsWithinPolicy(t *testing.T) {
	if c, s := grpcx.ClientKeepalive(), grpcx.Enforcement(); c.Time < s.MinTime || (c.PermitWithoutStream && !s.PermitWithoutStream) {
		t.Errorf("clients ping every %v (without a call: %v); servers allow every %v (without a call: %v)",
			c.Time, c.PermitWithoutStream, s.MinTime, s.PermitWithoutStream)
	}
}
