package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gradebook/gradebook/logging/logclient"
)

// DefaultWindow is how many recent entries the log service keeps in memory for GET /v1/logs.
const DefaultWindow = 10000

// DefaultWindowBytes bounds the encoded size of the entries in the window. A count alone does
// not bound memory: 10,000 entries of up to logclient.MaxEntryBytes each would be 640 MiB.
// Whichever bound is reached first evicts the oldest entries.
const DefaultWindowBytes = 32 << 20

// maxTailBytes bounds how much of an existing file is read back into the window at start-up.
const maxTailBytes = 64 << 20

// record is one entry in the window: what the filters look at, and its stored JSON line.
type record struct {
	time      time.Time
	service   string
	instance  string
	rank      int
	requestID string
	line      json.RawMessage
}

// Store appends entries to a JSON-lines file, one write per batch, and keeps the most recent ones
// in a ring bounded both by entries and by their encoded bytes. It never logs: its errors are
// returned, so that the log service's own logger, which writes into this store, cannot recurse
// into it.
type Store struct {
	path string

	mu      sync.RWMutex
	lastErr error // the last write's failure, until a write succeeds
	f       *os.File
	size    int64 // bytes of whole lines in the file
	closed  bool

	// The window: ring[head] is the oldest of n records, whose lines take bytes in all. The
	// newest record always stays, even alone over maxBytes, so that the window never empties
	// on a single large entry (logclient.MaxEntryBytes is far below any sensible maxBytes anyway).
	// The lines of one appended batch share a buffer, which lives until the last of them is
	// evicted: the memory held is bytes plus at most the rest of the oldest batch's buffer.
	ring     []record
	head     int
	n        int
	bytes    int
	maxBytes int
}

// OpenStore opens (creating it and its directory if needed) the log file at path, and loads
// its last entries into memory: at most window of them, taking at most windowBytes once encoded.
// A bound <= 0 takes its default (DefaultWindow, DefaultWindowBytes).
func OpenStore(path string, window, windowBytes int) (*Store, error) {
	if window <= 0 {
		window = DefaultWindow
	}
	if windowBytes <= 0 {
		windowBytes = DefaultWindowBytes
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("log store: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("log store: %w", err)
	}
	s := &Store{path: path, f: f, ring: make([]record, window), maxBytes: windowBytes}
	if err := s.loadTail(); err != nil {
		f.Close()
		return nil, fmt.Errorf("log store %s: %w", path, err)
	}
	return s, nil
}

// Path is the log file's path.
func (s *Store) Path() string { return s.path }

// loadTail reads the file's last lines into the ring. A torn last line (a crash mid-write) is
// skipped and ended with a newline, so that the next append starts a line of its own.
func (s *Store) loadTail() error {
	st, err := s.f.Stat()
	if err != nil {
		return err
	}
	s.size = st.Size()
	if s.size == 0 {
		return nil
	}
	start := max(s.size-maxTailBytes, 0)
	buf := make([]byte, s.size-start)
	if _, err := s.f.ReadAt(buf, start); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if buf[len(buf)-1] != '\n' {
		if _, err := s.f.Write([]byte{'\n'}); err != nil {
			return err
		}
		s.size++
	}
	if start > 0 {
		// The first line read is probably cut off.
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		}
	}
	// Only the last good lines that fit the window's bounds can stay: walk back from the end,
	// skipping lines that do not parse (a torn line), and push them oldest first.
	lines := bytes.Split(bytes.TrimRight(buf, "\n"), []byte{'\n'})
	type kept struct {
		e    logclient.Entry
		line []byte
	}
	var keep []kept
	total := 0
	for i := len(lines) - 1; i >= 0 && len(keep) < len(s.ring); i-- {
		e, err := decodeEntry(lines[i], time.Time{})
		if err != nil {
			continue
		}
		line, err := e.MarshalJSON()
		if err != nil {
			continue
		}
		line = windowLine(line)
		if total += len(line); total > s.maxBytes && len(keep) > 0 {
			break
		}
		keep = append(keep, kept{e, line})
	}
	for i := len(keep) - 1; i >= 0; i-- {
		s.push(keep[i].e, keep[i].line)
	}
	return nil
}

// push adds a record to the ring; the caller holds mu (or owns s exclusively).
func (s *Store) push(e logclient.Entry, line []byte) {
	r := record{time: e.Time, service: e.Service, instance: e.Instance, rank: levelRank(e.Level), line: line}
	if id, ok := e.Fields["request_id"]; ok {
		if str, err := unquoteJSON(id); err == nil {
			r.requestID = str
		}
	}
	if s.n == len(s.ring) {
		s.evictOldest()
	}
	s.ring[(s.head+s.n)%len(s.ring)] = r
	s.n++
	s.bytes += len(line)
	for s.bytes > s.maxBytes && s.n > 1 {
		s.evictOldest()
	}
}

// evictOldest drops the oldest record; the caller holds mu and s.n > 0.
func (s *Store) evictOldest() {
	s.bytes -= len(s.ring[s.head].line)
	s.ring[s.head] = record{} // let go of its line now, not when the slot is reused
	s.head = (s.head + 1) % len(s.ring)
	s.n--
}

// windowLine returns line in a buffer of about its own length. An encoded line can sit in a
// buffer up to twice as long, and the window keeps the buffer: trimmed, the window's byte bound
// is also, near enough, the memory it holds. Callers trim outside mu.
func windowLine(line []byte) []byte {
	if cap(line) > len(line)+len(line)/8 {
		return bytes.Clone(line)
	}
	return line
}

// ErrClosed is returned by a Store used after Close.
var ErrClosed = errors.New("log store is closed")

// Append writes entries to the file with a single write and adds them to the window. With
// durable, it also fsyncs before returning, so that an acknowledged batch survives a crash of
// the machine, not only of the process. It returns the bytes written.
func (s *Store) Append(entries []logclient.Entry, durable bool) (int, error) {
	if len(entries) == 0 {
		return 0, nil
	}
	// Encode outside the lock; only the write itself is serialised. All the lines go into one
	// buffer, which is both what is written and what the window keeps: each record's line is
	// a piece of it, so the buffer lives until the window has let go of its last line.
	size := 0
	for i := range entries {
		size += entries[i].SizeHint() + 1
	}
	buf := make([]byte, 0, size)
	ends := make([]int, len(entries))
	for i := range entries {
		var err error
		if buf, err = entries[i].AppendJSON(buf); err != nil {
			return 0, err
		}
		buf = append(buf, '\n')
		ends[i] = len(buf)
	}
	lines := make([][]byte, len(entries))
	start := 0
	for i, end := range ends {
		lines[i] = buf[start : end-1 : end-1]
		start = end
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, ErrClosed
	}
	n, err := s.f.Write(buf)
	if err != nil {
		// Cut a partial write off, so that the file stays whole lines; if even that fails,
		// the next write starts on a fresh line.
		if terr := s.f.Truncate(s.size); terr != nil {
			s.size += int64(n)
			if n > 0 {
				if _, werr := s.f.Write([]byte{'\n'}); werr == nil {
					s.size++
				}
			}
		}
		err = fmt.Errorf("write %s: %w", s.path, err)
		s.lastErr = err
		s.mu.Unlock()
		return 0, err
	}
	s.lastErr = nil
	s.size += int64(n)
	for i, e := range entries {
		s.push(e, lines[i])
	}
	f := s.f
	s.mu.Unlock()
	if durable {
		// fsync outside the lock: concurrent batches share the disk flush instead of queueing
		// behind each other's.
		if err := f.Sync(); err != nil {
			return n, fmt.Errorf("fsync %s: %w", s.path, err)
		}
	}
	return n, nil
}

// Query selects entries from the window.
type Query struct {
	Service   string
	Instance  string
	RequestID string
	MinLevel  string // "" for all
	Since     time.Time
	Limit     int
}

// Recent returns the newest q.Limit entries that match q, newest last.
func (s *Store) Recent(q Query) []json.RawMessage {
	minRank := -1
	if q.MinLevel != "" {
		minRank = levelRank(q.MinLevel)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []json.RawMessage
	for i := s.n - 1; i >= 0 && len(out) < limit; i-- {
		r := &s.ring[(s.head+i)%len(s.ring)]
		switch {
		case q.Service != "" && r.service != q.Service,
			q.Instance != "" && r.instance != q.Instance,
			q.RequestID != "" && r.requestID != q.RequestID,
			r.rank < minRank,
			!q.Since.IsZero() && r.time.Before(q.Since):
			continue
		}
		out = append(out, r.line)
	}
	// Gathered newest first; answer newest last.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// Len is the number of entries in the window.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.n
}

// Bytes is the encoded size of the entries in the window.
func (s *Store) Bytes() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.bytes
}

// Err reports whether the store can take entries: the last write's error, or ErrClosed.
func (s *Store) Err() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return s.lastErr
}

// Close fsyncs and closes the file. Appends after Close fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return errors.Join(s.f.Sync(), s.f.Close())
}
