package logx

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/go-kit/log"
)

// drain reads r (the read end of a pipe) in 64 KiB reads, as gradebook up's relay does, until it
// ends, and returns what it read and the number of reads.
func drain(r io.Reader) (data []byte, reads int) {
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			reads++
			data = append(data, buf[:n]...)
		}
		if err != nil {
			return data, reads
		}
	}
}

// TestCoalescingWriterKeepsLinesWholeAndInOrder writes lines from many goroutines through a
// CoalescingWriter into a pipe and checks that every line arrives once, whole, and after the
// lines its goroutine wrote before it.
func TestCoalescingWriterKeepsLinesWholeAndInOrder(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		data  []byte
		reads int
	}
	got := make(chan result, 1)
	go func() { d, n := drain(r); got <- result{d, n} }()

	cw := NewCoalescingWriter(w, 4<<10) // small, so that Writes also wait for room
	const writers, lines = 8, 2000
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range lines {
				line := fmt.Sprintf("writer=%d line=%d pad=%s\n", g, i, strings.Repeat("x", i%200))
				if n, err := cw.Write([]byte(line)); err != nil || n != len(line) {
					t.Errorf("Write: %d, %v", n, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := cw.Flush(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	res := <-got
	r.Close()

	next := make([]int, writers)
	sc := bufio.NewScanner(bytes.NewReader(res.data))
	n := 0
	for sc.Scan() {
		var g, i int
		if _, err := fmt.Sscanf(sc.Text(), "writer=%d line=%d ", &g, &i); err != nil || g < 0 || g >= writers {
			t.Fatalf("line %d is not whole: %q (%v)", n, sc.Text(), err)
		}
		if want := fmt.Sprintf("writer=%d line=%d pad=%s", g, next[g], strings.Repeat("x", next[g]%200)); sc.Text() != want {
			t.Fatalf("line %d is %q; want %q", n, sc.Text(), want)
		}
		next[g]++
		n++
	}
	if n != writers*lines {
		t.Fatalf("%d lines arrived, want %d", n, writers*lines)
	}
	t.Logf("%d lines in %d reads", n, res.reads)
}

// TestCoalescingWriterWaitsWhenFull: with the pipe's reader stopped, Writes fill the pipe and
// then the writer's bound, and the next Write waits instead of dropping; once the reader
// reads, every line arrives.
func TestCoalescingWriterWaitsWhenFull(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const max = 8 << 10
	cw := NewCoalescingWriter(w, max)
	line := []byte(strings.Repeat("y", 99) + "\n")
	const total = 5000 // 500 KB: more than the pipe and the bound hold together
	returned := make(chan int, total)
	for g := range 4 { // while one Write is stuck in the pipe, the others gather
		go func() {
			for i := range total / 4 {
				cw.Write(line)
				returned <- g*total/4 + i
			}
		}()
	}
	// Wait until the bound is reached: the pipe is full and a write is stuck in it.
	for {
		cw.mu.Lock()
		full := cw.writing && len(cw.held)+len(line) > max
		cw.mu.Unlock()
		if full {
			break
		}
		runtimeGosched()
	}
	// Nothing reads the pipe, so the write in progress cannot finish, and the next Write
	// cannot have returned.
	if n := len(returned); n >= total {
		t.Fatalf("all %d Writes returned with nothing reading", n)
	}
	cw.mu.Lock()
	if len(cw.held) > max {
		t.Errorf("holding %d bytes, over the bound %d", len(cw.held), max)
	}
	cw.mu.Unlock()

	got := make(chan []byte, 1)
	go func() { d, _ := drain(r); got <- d }()
	for range total {
		<-returned
	}
	if err := cw.Flush(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if d := <-got; len(d) != total*len(line) || bytes.Count(d, []byte{'\n'}) != total {
		t.Fatalf("%d bytes, %d lines arrived; want %d lines", len(d), bytes.Count(d, []byte{'\n'}), total)
	}
}

// BenchmarkStderrLines is the services' stderr logger (logfmt, one Write per line) writing an
// access-log line from 32 goroutines into a pipe that a reader drains in 64 KiB reads, as under
// gradebook up: through one lock per line (sync) or a CoalescingWriter. It reports the
// reader's reads per line logged, which is what the relay pays.
func BenchmarkStderrLines(b *testing.B) {
	for _, tc := range []struct {
		name string
		wrap func(io.Writer) io.Writer
	}{
		{"sync", func(w io.Writer) io.Writer { return log.NewSyncWriter(w) }},
		{"coalescing", func(w io.Writer) io.Writer { return NewCoalescingWriter(w, 0) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			r, w, err := os.Pipe()
			if err != nil {
				b.Fatal(err)
			}
			reads := make(chan int, 1)
			go func() { _, n := drain(r); reads <- n }()
			out := tc.wrap(w)
			logger, _ := New(out, "grading", "info")
			b.SetParallelism(16)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					logger.Log("level", "info", "msg", "request", "method", "GET", "path", "/students/"+strconv.Itoa(i),
						"status", 200, "took", "153µs", "request_id", "69aa7ed7c70b0ad0325f7587")
				}
			})
			b.StopTimer()
			if cw, ok := out.(*CoalescingWriter); ok {
				cw.Flush()
			}
			w.Close()
			n := <-reads
			r.Close()
			b.ReportMetric(float64(n)/float64(b.N), "reads/line")
		})
	}
}

func runtimeGosched() { runtime.Gosched() }
