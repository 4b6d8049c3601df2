package repo

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ErrStopWalk, returned by a Walk callback, ends the walk without error.
var ErrStopWalk = errors.New("stop walk")

// Walk calls fn for each commit on the first-parent line of the branch,
// newest first, with the paths each commit added and deleted against its
// first parent. This is the media history: spano's own commits are
// linear, and a merge brought in by someone else counts as one change.
// Walk reads with a storage of its own and does not hold up the writer.
func (r *Repo) Walk(ctx context.Context, fn func(CommitInfo) error) error {
	head, err := r.Head(ctx)
	if err != nil || head == "" {
		return err
	}
	st := newStorage(r.opts.Path)
	defer st.Close()
	for h := plumbing.NewHash(head); !h.IsZero(); {
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := object.GetCommit(st, h)
		if err != nil {
			return fmt.Errorf("walk %s: %w", h, err)
		}
		info, err := commitInfo(st, c)
		if err != nil {
			return fmt.Errorf("walk %s: %w", h, err)
		}
		if err := fn(info); errors.Is(err, ErrStopWalk) {
			return nil
		} else if err != nil {
			return err
		}
		if len(c.ParentHashes) == 0 {
			break
		}
		h = c.ParentHashes[0]
	}
	return nil
}

// List returns the files below dir ("" for all) on the branch head, in
// git's tree order, with their sizes.
func (r *Repo) List(ctx context.Context, dir string) ([]Entry, error) {
	head, err := r.Head(ctx)
	if err != nil || head == "" {
		return nil, err
	}
	st := newStorage(r.opts.Path)
	defer st.Close()
	c, err := object.GetCommit(st, plumbing.NewHash(head))
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	root := c.TreeHash
	dir = strings.Trim(dir, "/")
	if dir != "" {
		e, err := lookup(st, root, dir)
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", dir, err)
		}
		if e.Mode != filemode.Dir {
			return nil, nil
		}
		root = e.Hash
	}
	var out []Entry
	var walk func(h plumbing.Hash, prefix string) error
	walk = func(h plumbing.Hash, prefix string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		t, err := object.GetTree(st, h)
		if err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		for _, e := range t.Entries {
			p := path.Join(prefix, e.Name)
			switch e.Mode {
			case filemode.Dir:
				if err := walk(e.Hash, p); err != nil {
					return err
				}
			case filemode.Regular, filemode.Executable:
				size, err := st.EncodedObjectSize(e.Hash)
				if err != nil {
					return fmt.Errorf("list %s: %w", p, err)
				}
				out = append(out, Entry{Path: p, Size: size, Blob: e.Hash.String()})
			}
		}
		return nil
	}
	if err := walk(root, dir); err != nil {
		return nil, err
	}
	return out, nil
}
