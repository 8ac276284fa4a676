package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gradebook/gradebook/pkg/errs"
)

// catalogFile is the catalog's file name under -data.
const catalogFile = "catalog.json"

// storedCatalog is the file format. Version changes when a field changes meaning.
type storedCatalog struct {
	Version  int
	Index    uint64
	Names    map[string]uint64
	Services []json.RawMessage // each a storedService
}

// storedHeader is storedCatalog without its services, which snapshot appends by hand.
type storedHeader struct {
	Version int
	Index   uint64
	Names   map[string]uint64
}

// storedService is one service with its checks.
type storedService struct {
	serviceState
	Checks []*checkState
}

const storeVersion = 1

// restartIndexGap is how far a reloaded catalog's index jumps past the saved one: more than the
// status changes that can happen while one save is being written.
const restartIndexGap = 10000

// snapshot serialises the catalog under its lock. Each service's record is encoded once per
// change and reused, so that a registration among a thousand services costs one encoding, not
// a thousand.
func (c *Catalog) snapshot() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	head, err := json.Marshal(storedHeader{Version: storeVersion, Index: c.index, Names: c.names})
	if err != nil {
		return nil, err
	}
	// The cached records are valid JSON already; json.Marshal would scan every one again.
	var buf bytes.Buffer
	buf.Grow(c.snapshotSize + len(head))
	buf.Write(head[:len(head)-1])
	buf.WriteString(`,"Services":[`)
	i := 0
	for _, svc := range c.services { // in no particular order: loading does not care
		if svc.enc == nil {
			ss := storedService{serviceState: *svc}
			for _, cid := range svc.CheckIDs {
				ss.Checks = append(ss.Checks, c.checks[cid])
			}
			b, err := json.Marshal(ss)
			if err != nil {
				return nil, err
			}
			svc.enc = b
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(svc.enc)
		i++
	}
	buf.WriteString("]}")
	c.snapshotSize = buf.Len()
	return buf.Bytes(), nil
}

// loadCatalog reads the catalog saved under dir. A missing file is an empty catalog; a file
// that cannot be read back is an error naming it, because starting empty would silently drop
// every registration.
func loadCatalog(dir string) (*Catalog, error) {
	c := newCatalog()
	path := filepath.Join(dir, catalogFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the catalog: %w", err)
	}
	var sc storedCatalog
	if err := json.Unmarshal(b, &sc); err != nil {
		return nil, fmt.Errorf("the catalog file %s is corrupt (%v); move it aside to start with an empty catalog", path, err)
	}
	if sc.Version != storeVersion {
		return nil, fmt.Errorf("the catalog file %s has version %d; this hub reads version %d", path, sc.Version, storeVersion)
	}
	// Status changes are acknowledged before they reach the disk, so a crashed hub may have
	// shown clients indexes above the saved one. Starting well past it keeps every index a
	// client holds in the past, and moving every name to it makes each blocking query answer
	// once with the catalog as reloaded. The saved Names are not needed for that: every name
	// with an instance, and every name without (through gone), starts at the new index.
	c.index = max(c.index, sc.Index+restartIndexGap)
	c.gone = c.index // names that went before the restart, or whose services did not load
	now := time.Now()
	for _, raw := range sc.Services {
		var ss storedService
		if err := json.Unmarshal(raw, &ss); err != nil || ss.Service.ID == "" {
			return nil, fmt.Errorf("the catalog file %s is corrupt: a service record that cannot be read", path)
		}
		svc := &ss.serviceState
		// A file saved before the hub validated IDs and names may hold one that no route can
		// reach (".." cannot be deregistered: clients clean it out of the path). Such a service
		// is left out, and the file is rewritten without it as soon as the hub serves: loading it
		// would keep an instance nobody can remove, and refusing the file would keep the hub
		// down over one bad record.
		if problem := storedServiceProblem(svc); problem != "" {
			c.dropped = append(c.dropped, droppedService{ID: svc.Service.ID, Name: svc.Service.Service, Problem: problem})
			continue
		}
		svc.CheckIDs = svc.CheckIDs[:0]
		for _, cs := range ss.Checks {
			if cs == nil || cs.Def.CheckID == "" {
				return nil, fmt.Errorf("the catalog file %s is corrupt: service %q has a check without an ID", path, svc.Service.ID)
			}
			cs.ServiceID = svc.Service.ID
			cs.ttlReset = make(chan struct{}, 1)
			// The hub was down: give a critical service a full grace period again before
			// reaping it, rather than counting the time nobody was looking.
			if cs.Status == "critical" {
				cs.Since = now
			}
			c.checks[cs.Def.CheckID] = cs
			svc.CheckIDs = append(svc.CheckIDs, cs.Def.CheckID)
		}
		c.services[svc.Service.ID] = svc
		c.instances[svc.Service.Service]++
		c.names[svc.Service.Service] = c.index
	}
	return c, nil
}

// storedServiceProblem says why a saved service would not be registered today, or "".
func storedServiceProblem(svc *serviceState) string {
	if p := identifierProblem(svc.Service.ID); p != "" {
		return "its ID " + p
	}
	if p := identifierProblem(svc.Service.Service); p != "" {
		return "its name " + p
	}
	return ""
}

// writeFileAtomic replaces path with data so that a crash leaves either the old file or the new
// one: write a temporary file, fsync it, rename it over path, fsync the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// persister saves the catalog in the background with group commit: every change marks a new
// generation, one write covers all generations marked before it started, and a writer that must
// not answer before its change is on disk waits for a flush that includes its generation.
type persister struct {
	path     string
	snapshot func() ([]byte, error)
	onError  func(error)

	mu      sync.Mutex
	marked  uint64
	flushed uint64
	lastErr error
	retry   bool          // write once more even with nothing marked: the last write failed
	done    chan struct{} // closed and replaced after every write
	kick    chan struct{}
}

func newPersister(path string, snapshot func() ([]byte, error), onError func(error)) *persister {
	return &persister{path: path, snapshot: snapshot, onError: onError, done: make(chan struct{}), kick: make(chan struct{}, 1)}
}

// mark records a change and returns its generation. It never blocks.
func (p *persister) mark() uint64 {
	p.mu.Lock()
	p.marked++
	gen := p.marked
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
	return gen
}

// wait returns once generation gen is on disk, with the error of the write that covered it.
func (p *persister) wait(ctx context.Context, gen uint64) error {
	for {
		p.mu.Lock()
		if p.flushed >= gen {
			err := p.lastErr
			p.mu.Unlock()
			return err
		}
		done := p.done
		p.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// failure is the last write's failure as the hub answers it (an *errs.StorageError), or nil when
// it succeeded. While writes fail it asks for one more, so that the hub learns by itself, through
// whoever polls its health, when the disk takes writes again.
func (p *persister) failure() error {
	p.mu.Lock()
	err := p.lastErr
	if err != nil {
		p.retry = true
	}
	p.mu.Unlock()
	if err == nil {
		return nil
	}
	select {
	case p.kick <- struct{}{}:
	default:
	}
	return saveError(err)
}

// saveError is how a failed save is answered: a storage failure by its class, anything else as
// "storage unavailable: save failed", never with the file's path, which belongs in the log.
func saveError(err error) error {
	var se *errs.StorageError
	if errors.As(errs.Storage(err), &se) {
		return se
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &errs.StorageError{Class: "save timed out", Cause: err}
	}
	return &errs.StorageError{Class: "save failed", Cause: err}
}

// run writes until ctx ends, then writes once more if anything is left.
func (p *persister) run(ctx context.Context) {
	for {
		select {
		case <-p.kick:
			p.flush()
		case <-ctx.Done():
			p.flush()
			return
		}
	}
}

func (p *persister) flush() {
	p.mu.Lock()
	gen := p.marked
	pending := gen > p.flushed || p.retry
	p.retry = false
	p.mu.Unlock()
	if !pending {
		return
	}
	data, err := p.snapshot()
	if err == nil {
		err = writeFileAtomic(p.path, data)
	}
	if err != nil {
		err = fmt.Errorf("save the catalog to %s: %w", p.path, err)
		p.onError(err)
	}
	p.mu.Lock()
	p.flushed, p.lastErr = gen, err
	close(p.done)
	p.done = make(chan struct{})
	p.mu.Unlock()
}
