package repo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// A Syncer makes what was written to the repository durable. The real one
// is fsync(2) on the file or folder; tests inject one that records the
// order of the calls, which is the whole of the durability promise: a
// commit's objects, then their folders, then the branch ref and its
// folder, before Commit returns.
type Syncer interface {
	SyncFile(path string) error
	SyncDir(path string) error
}

// fsyncer is the Syncer of a real run: git's core.fsync=committed with
// core.fsyncMethod=fsync.
type fsyncer struct{}

func (fsyncer) SyncFile(path string) error { return syncPath(path) }
func (fsyncer) SyncDir(path string) error  { return syncPath(path) }

func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// looseObjectPath is where git keeps object h when it is loose.
func looseObjectPath(repo string, h plumbing.Hash) string {
	hex := h.String()
	return filepath.Join(repo, "objects", hex[:2], hex[2:])
}

// syncObjects makes the loose objects hs durable: each file, then each
// folder that holds one, then objects/ itself (a fan-out folder may be
// new). The files are synced in parallel so that the file system can
// commit them in one journal transaction.
func syncObjects(s Syncer, repo string, hs []plumbing.Hash) error {
	if len(hs) == 0 {
		return nil
	}
	errs := make([]error, len(hs))
	var wg sync.WaitGroup
	for i, h := range hs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.SyncFile(looseObjectPath(repo, h))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sync objects: %w", err)
	}
	dirs := make([]string, 0, len(hs))
	for _, h := range hs {
		dirs = append(dirs, filepath.Dir(looseObjectPath(repo, h)))
	}
	slices.Sort(dirs)
	for _, d := range slices.Compact(dirs) {
		if err := s.SyncDir(d); err != nil {
			return fmt.Errorf("sync objects: %w", err)
		}
	}
	if err := s.SyncDir(filepath.Join(repo, "objects")); err != nil {
		return fmt.Errorf("sync objects: %w", err)
	}
	return nil
}

// errRefMoved: a ref was not where spano left it (someone ran git in the
// clone), so spano does not overwrite it.
var errRefMoved = errors.New("ref moved outside spano")

// setRef points the loose ref name at h, durably and atomically, the way
// git does: the new value goes to name.lock (created exclusively, so a
// git command updating the same ref at the same moment makes one of the
// two fail), is synced, and is renamed over the ref; then the folder is
// synced. When old is not nil the ref must hold old now (zero: must not
// exist).
func setRef(s Syncer, st storer.ReferenceStorer, repo string, name plumbing.ReferenceName, h plumbing.Hash, old *plumbing.Hash) error {
	if old != nil {
		cur, err := st.Reference(name)
		switch {
		case errors.Is(err, plumbing.ErrReferenceNotFound):
			if !old.IsZero() {
				return fmt.Errorf("update %s: %w: it is gone", name.Short(), errRefMoved)
			}
		case err != nil:
			return fmt.Errorf("update %s: %w", name.Short(), err)
		case cur.Hash() != *old:
			return fmt.Errorf("update %s: %w: it is at %s, expected %s", name.Short(), errRefMoved, cur.Hash(), old)
		}
	}
	path := filepath.Join(repo, filepath.FromSlash(name.String()))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("update %s: %w", name.Short(), err)
	}
	lock := path + ".lock"
	f, err := os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("update %s: %w", name.Short(), err)
	}
	_, err = f.WriteString(h.String() + "\n")
	if err == nil {
		err = f.Close()
	} else {
		f.Close()
	}
	if err == nil {
		err = s.SyncFile(lock)
	}
	if err == nil {
		err = os.Rename(lock, path)
	}
	if err != nil {
		os.Remove(lock)
		return fmt.Errorf("update %s: %w", name.Short(), err)
	}
	if err := s.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("update %s: %w", name.Short(), err)
	}
	return nil
}

// removeStaleLocks deletes the ref locks a killed run left (spano holds
// a lock only while it renames it into place), so the next update does
// not fail on them. Only spano's own refs are looked at.
func removeStaleLocks(repo string, names ...plumbing.ReferenceName) {
	for _, n := range names {
		_ = os.Remove(filepath.Join(repo, filepath.FromSlash(n.String())) + ".lock")
	}
}

// recorder remembers the objects written through it, so that the writer
// can sync exactly those.
type recorder struct {
	storer.EncodedObjectStorer
	written []plumbing.Hash
}

func (r *recorder) SetEncodedObject(o plumbing.EncodedObject) (plumbing.Hash, error) {
	h, err := r.EncodedObjectStorer.SetEncodedObject(o)
	if err == nil {
		r.written = append(r.written, h)
	}
	return h, err
}

// syncPacks makes durable the pack files that a fetch wrote since since:
// re-applied commits are about to name their objects.
func syncPacks(s Syncer, repo string, since time.Time) error {
	dir := filepath.Join(repo, "objects", "pack")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("sync packs: %w", err)
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() || fi.ModTime().Before(since) {
			continue
		}
		if err := s.SyncFile(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("sync packs: %w", err)
		}
	}
	if err := s.SyncDir(dir); err != nil {
		return fmt.Errorf("sync packs: %w", err)
	}
	return nil
}
