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

// ErrStopWalk, returned by a Walk or Commits callback, ends the walk
// without error.
var ErrStopWalk = errors.New("stop walk")

// History is a read-only view of the branch as it was when it was
// opened: its files and its first-parent line of commits. It reads with a
// storage of its own and does not hold up the writer. It is not safe for
// concurrent use; Close it when done.
type History struct {
	st   *storage
	head plumbing.Hash
}

// History opens a view of the branch at its current head. After Close it
// shows the branch as the writer left it: every notice has then been
// delivered, so a view taken then matches what the notices described.
func (r *Repo) History(ctx context.Context) (*History, error) {
	h := &History{}
	select {
	case <-r.stopped:
		h.head, _ = r.head.Load().(plumbing.Hash)
	default:
		head, err := r.Head(ctx)
		if err != nil {
			return nil, err
		}
		if head != "" {
			h.head = plumbing.NewHash(head)
		}
	}
	h.st = r.newStorage()
	return h, nil
}

// Twin opens another view of the same head, for another goroutine: a
// view is not safe for concurrent use. Close it too.
func (h *History) Twin() *History {
	return &History{head: h.head, st: openStorage(h.st.path, h.st.gc)}
}

// Close releases the view's open pack files.
func (h *History) Close() error { return h.st.Close() }

// Head is the commit the view shows, "" for a branch without commits.
func (h *History) Head() string {
	if h.head.IsZero() {
		return ""
	}
	return h.head.String()
}

// Commits calls fn for each commit on the first-parent line, newest
// first, with its hash, message and author time but without its changes
// (see Changes): reading messages is cheap, comparing trees is not. A
// shallow clone's history ends where its commits end.
func (h *History) Commits(ctx context.Context, fn func(CommitInfo) error) error {
	for c := h.head; !c.IsZero(); {
		if err := ctx.Err(); err != nil {
			return err
		}
		commit, err := object.GetCommit(h.st, c)
		if errors.Is(err, plumbing.ErrObjectNotFound) && c != h.head {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read commit %s: %w", c, err)
		}
		err = fn(CommitInfo{Hash: c.String(), Message: ParseMessage(commit.Message), Time: commit.Author.When})
		if errors.Is(err, ErrStopWalk) {
			return nil
		} else if err != nil {
			return err
		}
		c = plumbing.ZeroHash
		if len(commit.ParentHashes) > 0 {
			c = commit.ParentHashes[0]
		}
	}
	return nil
}

// Changes returns the files below dir ("" for all) that the commit added
// or changed, and those it deleted, against its first parent. Subtrees
// with equal hashes are not read, so a commit that leaves dir alone costs
// two lookups.
func (h *History) Changes(commit, dir string) (added, deleted []string, err error) {
	c, err := object.GetCommit(h.st, plumbing.NewHash(commit))
	if err != nil {
		return nil, nil, fmt.Errorf("read commit %s: %w", commit, err)
	}
	dir = strings.Trim(dir, "/")
	now, err := h.subtree(c.TreeHash, dir)
	if err != nil {
		return nil, nil, err
	}
	parent, err := parentTree(h.st, c)
	if err != nil {
		return nil, nil, err
	}
	before, err := h.subtree(parent, dir)
	if err != nil {
		return nil, nil, err
	}
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	var edits []edit
	if err := diffInto(h.st, before, now, prefix, &edits); err != nil {
		return nil, nil, err
	}
	added, deleted = splitEdits(edits)
	return added, deleted, nil
}

// Tree returns the hash of the tree at dir ("" for the root) at the
// view's head, "" when there is none: two views with the same tree at dir
// hold the same files below it.
func (h *History) Tree(dir string) (string, error) {
	t, err := h.headTree(dir)
	if err != nil || t.IsZero() {
		return "", err
	}
	return t.String(), nil
}

// headTree returns the tree at dir at the view's head, zero when there
// is none.
func (h *History) headTree(dir string) (plumbing.Hash, error) {
	if h.head.IsZero() {
		return plumbing.ZeroHash, nil
	}
	c, err := object.GetCommit(h.st, h.head)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read head %s: %w", h.head, err)
	}
	return h.subtree(c.TreeHash, strings.Trim(dir, "/"))
}

// Files returns the files below dir ("" for all) at the view's head, in
// git's tree order, without their sizes (see Size).
func (h *History) Files(ctx context.Context, dir string) ([]Entry, error) {
	dir = strings.Trim(dir, "/")
	root, err := h.headTree(dir)
	if err != nil || root.IsZero() {
		return nil, err
	}
	var out []Entry
	var walk func(t plumbing.Hash, prefix string) error
	walk = func(t plumbing.Hash, prefix string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		tree, err := object.GetTree(h.st, t)
		if err != nil {
			return fmt.Errorf("read tree %s: %w", prefix, err)
		}
		for _, e := range tree.Entries {
			p := path.Join(prefix, e.Name)
			switch e.Mode {
			case filemode.Dir:
				if err := walk(e.Hash, p); err != nil {
					return err
				}
			case filemode.Regular, filemode.Executable:
				out = append(out, Entry{Path: p, Size: -1, Blob: e.Hash.String()})
			}
		}
		return nil
	}
	return out, walk(root, dir)
}

// Size returns the size of a blob from its header, without reading it.
func (h *History) Size(blob string) (int64, error) {
	n, err := h.st.EncodedObjectSize(plumbing.NewHash(blob))
	if err != nil {
		return 0, fmt.Errorf("read size of blob %s: %w", blob, err)
	}
	return n, nil
}

// subtree returns the tree at dir below root ("" for root itself), or
// zero when there is none.
func (h *History) subtree(root plumbing.Hash, dir string) (plumbing.Hash, error) {
	if dir == "" {
		return root, nil
	}
	e, err := lookup(h.st, root, dir)
	if errors.Is(err, ErrNotFound) || err == nil && e.Mode != filemode.Dir {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return e.Hash, nil
}

// Walk calls fn for each commit on the first-parent line of the branch,
// newest first, with the paths each commit added and deleted against its
// first parent. This is the media history: spano's own commits are
// linear, and a merge brought in by someone else counts as one change.
func (r *Repo) Walk(ctx context.Context, fn func(CommitInfo) error) error {
	h, err := r.History(ctx)
	if err != nil {
		return err
	}
	defer h.Close()
	return h.Commits(ctx, func(c CommitInfo) error {
		var err error
		if c.Added, c.Deleted, err = h.Changes(c.Hash, ""); err != nil {
			return err
		}
		return fn(c)
	})
}

// List returns the files below dir ("" for all) on the branch head, in
// git's tree order, with their sizes.
func (r *Repo) List(ctx context.Context, dir string) ([]Entry, error) {
	h, err := r.History(ctx)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	files, err := h.Files(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	for i := range files {
		if files[i].Size, err = h.Size(files[i].Blob); err != nil {
			return nil, fmt.Errorf("list %s: %w", dir, err)
		}
	}
	return files, nil
}
