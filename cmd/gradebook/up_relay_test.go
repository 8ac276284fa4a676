package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
)

// relayOutput is where relays write in these tests: a real pipe, as up's stdout is in a terminal
// or under gradebook bench, read to its end.
func relayOutput(t testing.TB) (*prefixer, func() string) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	read := make(chan struct{})
	go func() {
		_, _ = io.Copy(&got, r)
		r.Close()
		close(read)
	}()
	return &prefixer{w: w, width: 8}, func() string {
		w.Close()
		<-read
		return got.String()
	}
}

// TestRelayKeepsLinesWhole has several writers log at once through their own relays, as the
// services do under load, with lines of many lengths, written a line at a time, several at once
// and split across writes: every line comes out once, whole, in its writer's order, with its
// writer's prefix, and no two writers' lines are mixed.
func TestRelayKeepsLinesWhole(t *testing.T) {
	p, output := relayOutput(t)
	const writers, lines = 4, 5000
	var wg sync.WaitGroup
	for n := range writers {
		name := fmt.Sprintf("svc%d", n)
		w, relayed, err := p.pipe(name)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var pending []byte
			for i := range lines {
				// Lengths from 1 to about 9,000 bytes: some lines span the relay's reads.
				pending = fmt.Appendf(pending, "%s line %d %s\n", name, i, strings.Repeat("x", (i*7919)%(9000)))
				switch i % 3 {
				case 0: // a line per write
					w.Write(pending)
					pending = pending[:0]
				case 1: // a line in two writes
					half := len(pending) / 2
					w.Write(pending[:half])
					w.Write(pending[half:])
					pending = pending[:0]
				}
				// case 2: written with the next one
			}
			w.Write(pending)
			w.Close()
			<-relayed
		}()
	}
	wg.Wait()
	next := make(map[string]int)
	sc := bufio.NewScanner(strings.NewReader(output()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		prefix, line, ok := strings.Cut(sc.Text(), " | ")
		name := strings.TrimSpace(prefix)
		i := next[name]
		want := fmt.Sprintf("%s line %d %s", name, i, strings.Repeat("x", (i*7919)%(9000)))
		if !ok || prefix != fmt.Sprintf("%-8s", name) || line != want {
			t.Fatalf("line %d of %q reads %.80q..., want %.80q...", i, name, sc.Text(), want)
		}
		next[name]++
	}
	for n := range writers {
		if name := fmt.Sprintf("svc%d", n); next[name] != lines {
			t.Errorf("%s: %d lines relayed, want %d", name, next[name], lines)
		}
	}
}

// TestRelayLongAndUnfinishedLines: a line longer than the bound is passed on in pieces of the
// bound, each with the prefix, and the lines after it whole; CR LF ends a line as LF does; a
// last line without a newline is passed on with one.
func TestRelayLongAndUnfinishedLines(t *testing.T) {
	p, output := relayOutput(t)
	w, relayed, err := p.pipe("grading")
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("0123456789", relayLineMax/4) // 2.5 bounds
	go func() {
		io.WriteString(w, "before\r\n"+long+"\nafter\nunfinished")
		w.Close()
	}()
	<-relayed
	const prefix = "grading  | "
	want := prefix + "before\n" +
		prefix + long[:relayLineMax] + "\n" +
		prefix + long[relayLineMax:2*relayLineMax] + "\n" +
		prefix + long[2*relayLineMax:] + "\n" +
		prefix + "after\n" +
		prefix + "unfinished\n"
	if got := output(); got != want {
		t.Errorf("relayed %d bytes, want %d; first difference at byte %d", len(got), len(want), firstDiff(got, want))
	}
}

func firstDiff(a, b string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// BenchmarkRelay is one service's log lines (300 bytes, a line per write, as go-kit's logger
// writes them) through up's relay, from the child's pipe to up's stdout.
func BenchmarkRelay(b *testing.B) {
	p := &prefixer{w: io.Discard, width: 8}
	w, relayed, err := p.pipe("grading")
	if err != nil {
		b.Fatal(err)
	}
	line := []byte(strings.Repeat("k=v ", 74) + "end\n")
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		w.Write(line)
	}
	w.Close()
	<-relayed
}
