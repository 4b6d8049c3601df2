package repo

import (
	"errors"
	"fmt"
	"io/fs"
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

// parallel runs f on every item at once and joins their errors: syncs
// issued together are committed by the file system in one journal
// transaction, so n of them cost about what one does.
func parallel(items []string, f func(string) error) error {
	errs := make([]error, len(items))
	var wg sync.WaitGroup
	for i, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(it)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// errRefMoved: a ref was not where spano left it (someone ran git in the
// clone), so spano does not overwrite it.
var errRefMoved = errors.New("ref moved outside spano")

// refUpdate is a ref moving durably and atomically, the way git moves
// one: the new value goes to name.lock (created exclusively, so a git
// command updating the same ref at the same moment makes one of the two
// fail), which is synced, then renamed over the ref, then the folder is
// synced. Between prepare and commit the caller syncs what the new value
// names, in the same round as the lock file.
type refUpdate struct {
	name       plumbing.ReferenceName
	path, lock string
}

// prepareRef checks that ref name holds old (when old is not nil; zero:
// must not exist) and writes h to its lock file, not yet synced.
func prepareRef(st storer.ReferenceStorer, repo string, name plumbing.ReferenceName, h plumbing.Hash, old *plumbing.Hash) (*refUpdate, error) {
	if old != nil {
		cur, err := st.Reference(name)
		switch {
		case errors.Is(err, plumbing.ErrReferenceNotFound):
			if !old.IsZero() {
				return nil, fmt.Errorf("update %s: %w: it is gone", name.Short(), errRefMoved)
			}
		case err != nil:
			return nil, fmt.Errorf("update %s: %w", name.Short(), err)
		case cur.Hash() != *old:
			return nil, fmt.Errorf("update %s: %w: it is at %s, expected %s", name.Short(), errRefMoved, cur.Hash(), old)
		}
	}
	u := &refUpdate{name: name, path: filepath.Join(repo, filepath.FromSlash(name.String()))}
	u.lock = u.path + ".lock"
	if err := os.MkdirAll(filepath.Dir(u.path), 0o755); err != nil {
		return nil, fmt.Errorf("update %s: %w", name.Short(), err)
	}
	f, err := os.OpenFile(u.lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("update %s: %w", name.Short(), err)
	}
	_, err = f.WriteString(h.String() + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(u.lock)
		return nil, fmt.Errorf("update %s: %w", name.Short(), err)
	}
	return u, nil
}

// commit renames the synced lock over the ref and syncs its folder.
func (u *refUpdate) commit(s Syncer) error {
	if err := os.Rename(u.lock, u.path); err != nil {
		os.Remove(u.lock)
		return fmt.Errorf("update %s: %w", u.name.Short(), err)
	}
	if err := s.SyncDir(filepath.Dir(u.path)); err != nil {
		return fmt.Errorf("update %s: %w", u.name.Short(), err)
	}
	return nil
}

// abort drops the lock of an update that will not happen.
func (u *refUpdate) abort() { os.Remove(u.lock) }

// setRef moves ref name to h, durably, after making the group's pack
// pk (nil: none) and the folders of the loose blobs durable: the pack's
// files at once with the ref's lock, then (the pack installed) every
// folder at once, then the rename and the ref's folder: three rounds of
// syncs, whatever the number of objects.
func setRef(s Syncer, st *storage, repo string, name plumbing.ReferenceName, h plumbing.Hash, old *plumbing.Hash, pk *groupPack, blobs []plumbing.Hash) error {
	u, err := prepareRef(st, repo, name, h, old)
	if err != nil {
		return err
	}
	files := []string{u.lock}
	var dirs []string
	if pk != nil || len(blobs) > 0 {
		dirs = append(dirs, filepath.Join(repo, "objects")) // a fan-out folder, or pack/, may be new
	}
	if pk != nil {
		files = append(files, pk.files()...)
		dirs = append(dirs, filepath.Join(repo, "objects", "pack"))
	}
	for _, o := range blobs {
		dirs = append(dirs, filepath.Dir(looseObjectPath(repo, o)))
	}
	slices.Sort(dirs)
	err = parallel(files, s.SyncFile)
	if err == nil && pk != nil {
		err = pk.install()
	}
	if err == nil {
		err = parallel(slices.Compact(dirs), func(dir string) error {
			if err := s.SyncDir(dir); !errors.Is(err, fs.ErrNotExist) || dir == filepath.Join(repo, "objects") {
				return err
			}
			return nil // checked below
		})
	}
	if err == nil {
		err = blobsPresent(st, repo, blobs)
	}
	if err != nil {
		u.abort()
		return fmt.Errorf("update %s: sync: %w", name.Short(), err)
	}
	return u.commit(s)
}

// blobsPresent checks the blobs whose loose file is gone. That happens
// when git gc, running beside spano, packed a blob (bytes committed
// before: a thumbnail of an image uploaded twice) and deleted its loose
// copy and the emptied folder (git prune-packed deletes only objects in
// a pack, which git synced); then the storage finds it in the new pack.
func blobsPresent(st *storage, repo string, blobs []plumbing.Hash) error {
	for _, b := range blobs {
		if _, err := os.Lstat(looseObjectPath(repo, b)); err == nil {
			continue
		}
		if _, err := st.EncodedObjectSize(b); err != nil {
			return fmt.Errorf("blob %s: %w", b, err)
		}
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
