package index

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// objects reads the repository's object store for Load. It is read-only
// and keeps the pack files open: opening a pack for each object, as a
// general-purpose storage does, made loading 10,000 uploads take tens of
// seconds instead of well under one. Refs are not read here; the head
// comes from the repository's writer.
type objects struct {
	st *filesystem.Storage
}

func openObjects(repoPath string) *objects {
	return &objects{st: filesystem.NewStorageWithOptions(osfs.New(repoPath), cache.NewObjectLRU(32*cache.MiByte),
		filesystem.Options{KeepDescriptors: true, LargeObjectThreshold: 1 << 20})}
}

func (o *objects) Close() error { return o.st.Close() }

// file is a file in a tree.
type file struct {
	path string
	blob plumbing.Hash
}

// size returns the size of a blob from its header, without reading it.
func (o *objects) size(h plumbing.Hash) (int64, error) {
	n, err := o.st.EncodedObjectSize(h)
	if err != nil {
		return 0, fmt.Errorf("read size of blob %s: %w", h, err)
	}
	return n, nil
}

// subtree returns the tree at dir below root ("" for root itself), or the
// zero hash when there is none.
func (o *objects) subtree(root plumbing.Hash, dir string) (plumbing.Hash, error) {
	h := root
	if dir == "" {
		return h, nil
	}
	for _, name := range strings.Split(dir, "/") {
		t, err := object.GetTree(o.st, h)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("read tree %s: %w", h, err)
		}
		e, err := t.FindEntry(name)
		if errors.Is(err, object.ErrEntryNotFound) || err == nil && e.Mode != filemode.Dir {
			return plumbing.ZeroHash, nil
		}
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("read tree %s: %w", h, err)
		}
		h = e.Hash
	}
	return h, nil
}

// files lists the regular files below the tree h, whose path is prefix.
func (o *objects) files(ctx context.Context, h plumbing.Hash, prefix string) ([]file, error) {
	var out []file
	var walk func(h plumbing.Hash, prefix string) error
	walk = func(h plumbing.Hash, prefix string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		t, err := object.GetTree(o.st, h)
		if err != nil {
			return fmt.Errorf("read tree %s: %w", prefix, err)
		}
		for _, e := range t.Entries {
			p := path.Join(prefix, e.Name)
			switch e.Mode {
			case filemode.Dir:
				if err := walk(e.Hash, p); err != nil {
					return err
				}
			case filemode.Regular, filemode.Executable:
				out = append(out, file{path: p, blob: e.Hash})
			}
		}
		return nil
	}
	if h.IsZero() {
		return nil, nil
	}
	return out, walk(h, prefix)
}

// added lists the files below dir that commit c adds or changes against
// its first parent. Subtrees whose hashes are equal are skipped, so a
// commit that leaves dir alone costs two lookups.
func (o *objects) added(c *object.Commit, dir string) ([]string, error) {
	now, err := o.subtree(c.TreeHash, dir)
	if err != nil {
		return nil, err
	}
	var before plumbing.Hash
	if len(c.ParentHashes) > 0 {
		p, err := object.GetCommit(o.st, c.ParentHashes[0])
		if err != nil {
			return nil, fmt.Errorf("read commit %s: %w", c.ParentHashes[0], err)
		}
		if before, err = o.subtree(p.TreeHash, dir); err != nil {
			return nil, err
		}
	}
	var out []string
	var diff func(a, b plumbing.Hash, prefix string) error
	diff = func(a, b plumbing.Hash, prefix string) error {
		if a == b || b.IsZero() {
			return nil
		}
		old := map[string]object.TreeEntry{}
		if !a.IsZero() {
			t, err := object.GetTree(o.st, a)
			if err != nil {
				return fmt.Errorf("read tree %s: %w", prefix, err)
			}
			for _, e := range t.Entries {
				old[e.Name] = e
			}
		}
		t, err := object.GetTree(o.st, b)
		if err != nil {
			return fmt.Errorf("read tree %s: %w", prefix, err)
		}
		for _, e := range t.Entries {
			p := path.Join(prefix, e.Name)
			was, ok := old[e.Name]
			if ok && was.Hash == e.Hash && was.Mode == e.Mode {
				continue
			}
			switch {
			case e.Mode == filemode.Dir:
				var from plumbing.Hash
				if ok && was.Mode == filemode.Dir {
					from = was.Hash
				}
				if err := diff(from, e.Hash, p); err != nil {
					return err
				}
			case e.Mode.IsFile():
				out = append(out, p)
			}
		}
		return nil
	}
	return out, diff(before, now, dir)
}
