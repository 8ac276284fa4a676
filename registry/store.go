package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// catalogFile is the catalog's file name under -data.
const catalogFile = "catalog.json"

// storedCatalog is the file format. Version changes when a field changes meaning.
type storedCatalog struct {
	Version  int
	Index    uint64
	Names    map[string]uint64
	Services []*serviceState
	Checks   []*checkState
}

const storeVersion = 1

// snapshot serialises the catalog under its lock.
func (c *Catalog) snapshot() ([]byte, error) {
	c.mu.Lock()
	sc := storedCatalog{Version: storeVersion, Index: c.index, Names: c.names}
	for _, svc := range c.sortedServicesLocked() {
		sc.Services = append(sc.Services, svc)
		for _, cid := range svc.CheckIDs {
			sc.Checks = append(sc.Checks, c.checks[cid])
		}
	}
	b, err := json.MarshalIndent(sc, "", "\t")
	c.mu.Unlock()
	return b, err
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
	if sc.Index > c.index {
		c.index = sc.Index
	}
	for n, i := range sc.Names {
		c.names[n] = i
	}
	checks := map[string]*checkState{}
	for _, cs := range sc.Checks {
		if cs == nil || cs.Def.CheckID == "" {
			return nil, fmt.Errorf("the catalog file %s is corrupt: a check without an ID", path)
		}
		checks[cs.Def.CheckID] = cs
	}
	now := time.Now()
	for _, svc := range sc.Services {
		if svc == nil || svc.Service.ID == "" {
			return nil, fmt.Errorf("the catalog file %s is corrupt: a service without an ID", path)
		}
		for _, cid := range svc.CheckIDs {
			cs, ok := checks[cid]
			if !ok {
				return nil, fmt.Errorf("the catalog file %s is corrupt: service %q lists unknown check %q", path, svc.Service.ID, cid)
			}
			cs.ServiceID = svc.Service.ID
			cs.ttlReset = make(chan struct{}, 1)
			// The hub was down: give a critical service a full grace period again before
			// reaping it, rather than counting the time nobody was looking.
			if cs.Status == "critical" {
				cs.Since = now
			}
			c.checks[cid] = cs
		}
		c.services[svc.Service.ID] = svc
	}
	return c, nil
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
	pending := gen > p.flushed
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
