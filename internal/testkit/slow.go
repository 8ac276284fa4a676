package testkit

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// SlowBody is a client that sends a request's headers promptly and then its body one byte at a
// time, the way a client holds a server's connection open for as long as the server lets it.
type SlowBody struct {
	Method, Path string
	// Header is sent as is, beside Host, Content-Length and Connection: keep-alive.
	Header http.Header
	// ContentLength is what the request announces; far more than is ever sent.
	ContentLength int64
	// Every is the time between two bytes.
	Every time.Duration
	// Fill is the byte the body is made of (zero: 'x'); a space keeps a JSON decoder reading.
	Fill byte
}

// SlowResult is how a slow-body request ended.
type SlowResult struct {
	// Status is the status code of the answer the server gave, or 0 if it gave none.
	Status int
	// Closed is how long after the headers were sent the server closed the connection.
	Closed time.Duration
	// Sent is how many body bytes went out before that.
	Sent int
}

// Send sends the request to addr (host:port) and trickles its body until the server closes the
// connection, and tells how it ended. It fails the test if the connection is still open after
// within: the server never cut the client off.
func (s SlowBody) Send(t testing.TB, addr string, within time.Duration) SlowResult {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	var head strings.Builder
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nConnection: keep-alive\r\n", s.Method, s.Path, addr, s.ContentLength)
	for k, vs := range s.Header {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	begin := time.Now()
	if _, err := io.WriteString(conn, head.String()); err != nil {
		t.Fatalf("send the headers: %v", err)
	}
	// The reader reads whatever answer comes, to the connection's end, and reports that end.
	type answer struct {
		status int
		at     time.Duration
	}
	ended := make(chan answer, 1)
	if err := conn.SetReadDeadline(begin.Add(within)); err != nil {
		t.Fatal(err)
	}
	go func() {
		status := 0
		br := bufio.NewReader(conn)
		if resp, err := http.ReadResponse(br, nil); err == nil {
			status = resp.StatusCode
		}
		_, err := io.Copy(io.Discard, br)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			ended <- answer{status, -1}
			return
		}
		ended <- answer{status, time.Since(begin)}
	}()
	fill := s.Fill
	if fill == 0 {
		fill = 'x'
	}
	tick := time.NewTicker(s.Every)
	defer tick.Stop()
	sent := 0
	for {
		select {
		case a := <-ended:
			if a.at < 0 {
				t.Fatalf("%s %s: the connection is still open %v after the headers, with %d body bytes sent (answer: %d)", s.Method, s.Path, within, sent, a.status)
			}
			return SlowResult{Status: a.status, Closed: a.at, Sent: sent}
		case <-tick.C:
			// A write may fail once the server has closed; the reader reports that.
			if _, err := conn.Write([]byte{fill}); err == nil {
				sent++
			}
		}
	}
}
