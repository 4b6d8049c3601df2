package repo

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// An edit adds a blob at a path, or deletes the path when blob is zero.
// Paths are slash-separated and relative to the root of the tree.
type edit struct {
	path string
	blob plumbing.Hash
	mode filemode.FileMode
}

func (e edit) delete() bool { return e.blob.IsZero() }

// editOptions says how applyEdits treats edits that do not fit the tree.
// New uploads are strict; re-applying a commit onto a moved remote is
// lenient, because another writer may have made the same change already.
type editOptions struct {
	// lenient skips deletes of missing paths and adds of paths that
	// already exist (with the same or, logged by the caller, other bytes).
	lenient bool
	// skipped collects the paths of edits that lenient mode skipped
	// because the path held other bytes.
	conflicts *[]string
}

// applyEdits returns the hash of the tree made by applying edits to the
// tree root (zero for an empty tree). Only the trees on the edited paths
// are read and written: the cost of a commit does not grow with the
// number of files in the repository, only with the depth of the path and
// the width of the trees along it.
func applyEdits(s storer.EncodedObjectStorer, root plumbing.Hash, edits []edit, opt editOptions) (plumbing.Hash, error) {
	h, _, err := editTree(s, root, "", edits, opt)
	return h, err
}

// editTree applies edits, whose paths are relative to prefix, to the
// tree treeHash (zero: none) and returns the new tree's hash, and whether
// it is empty (then the hash is zero, and the caller drops the folder).
func editTree(s storer.EncodedObjectStorer, treeHash plumbing.Hash, prefix string, edits []edit, opt editOptions) (plumbing.Hash, bool, error) {
	var entries []object.TreeEntry
	if !treeHash.IsZero() {
		t, err := object.GetTree(s, treeHash)
		if err != nil {
			return plumbing.ZeroHash, false, fmt.Errorf("read tree %s: %w", prefix, err)
		}
		entries = append(entries, t.Entries...)
	}
	groups, err := groupEdits(prefix, edits)
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	changed := false
	for _, g := range groups {
		full := prefix + g.name
		var c bool
		switch {
		case g.leaf != nil && len(g.below) > 0:
			return plumbing.ZeroHash, false, fmt.Errorf("path %s is both a file and a folder: %w", full, ErrConflict)
		case g.leaf != nil:
			entries, c, err = editLeaf(entries, g.name, full, *g.leaf, opt)
		default:
			entries, c, err = editFolder(s, entries, g, full, opt)
		}
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		changed = changed || c
	}
	if !changed && !treeHash.IsZero() {
		return treeHash, len(entries) == 0, nil
	}
	if len(entries) == 0 {
		return plumbing.ZeroHash, true, nil
	}
	h, err := writeTree(s, entries)
	return h, false, err
}

// editGroup is the edits of one name in a tree: of the file itself
// (leaf), or of the paths below it.
type editGroup struct {
	name  string
	leaf  *edit
	below []edit
}

// groupEdits groups edits by their first path element, in their order.
func groupEdits(prefix string, edits []edit) ([]*editGroup, error) {
	var groups []*editGroup
	byName := map[string]*editGroup{}
	for _, e := range edits {
		name, rest, deeper := strings.Cut(e.path, "/")
		if name == "" || name == "." || name == ".." || (deeper && rest == "") {
			return nil, fmt.Errorf("bad path %q: %w", prefix+e.path, ErrBadPath)
		}
		g := byName[name]
		if g == nil {
			g = &editGroup{name: name}
			byName[name] = g
			groups = append(groups, g)
		}
		if deeper {
			g.below = append(g.below, edit{path: rest, blob: e.blob, mode: e.mode})
		} else {
			g.leaf = &e
		}
	}
	return groups, nil
}

// entryIndex is the index of the entry called name, -1 for none.
func entryIndex(entries []object.TreeEntry, name string) int {
	return slices.IndexFunc(entries, func(e object.TreeEntry) bool { return e.Name == name })
}

// editLeaf adds or deletes the file name (full: its path) in entries.
func editLeaf(entries []object.TreeEntry, name, full string, e edit, opt editOptions) ([]object.TreeEntry, bool, error) {
	i := entryIndex(entries, name)
	switch {
	case e.delete() && i < 0:
		if opt.lenient {
			return entries, false, nil
		}
		return nil, false, fmt.Errorf("delete %s: %w", full, ErrNotFound)
	case e.delete():
		if entries[i].Mode == filemode.Dir {
			return nil, false, fmt.Errorf("delete %s: is a folder: %w", full, ErrConflict)
		}
		return slices.Delete(entries, i, i+1), true, nil
	case i >= 0:
		if entries[i].Hash == e.blob && entries[i].Mode == e.mode {
			return entries, false, nil
		}
		if opt.lenient {
			if opt.conflicts != nil {
				*opt.conflicts = append(*opt.conflicts, full)
			}
			return entries, false, nil
		}
		// A path is never overwritten: different bytes always have a
		// different content-addressed path, so this is a file someone
		// else put there.
		return nil, false, fmt.Errorf("add %s: %w", full, ErrConflict)
	}
	return append(entries, object.TreeEntry{Name: name, Mode: e.mode, Hash: e.blob}), true, nil
}

// editFolder applies g's edits below the folder g.name (full: its path)
// in entries, dropping it when they leave it empty.
func editFolder(s storer.EncodedObjectStorer, entries []object.TreeEntry, g *editGroup, full string, opt editOptions) ([]object.TreeEntry, bool, error) {
	i := entryIndex(entries, g.name)
	var sub plumbing.Hash
	if i >= 0 {
		if entries[i].Mode != filemode.Dir {
			return nil, false, fmt.Errorf("%s is a file, not a folder: %w", full, ErrConflict)
		}
		sub = entries[i].Hash
	}
	newSub, empty, err := editTree(s, sub, full+"/", g.below, opt)
	switch {
	case err != nil:
		return nil, false, err
	case empty && i >= 0:
		return slices.Delete(entries, i, i+1), true, nil
	case empty:
		return entries, false, nil
	case i >= 0 && newSub != sub:
		entries[i].Hash = newSub
		return entries, true, nil
	case i < 0:
		return append(entries, object.TreeEntry{Name: g.name, Mode: filemode.Dir, Hash: newSub}), true, nil
	}
	return entries, false, nil
}

// writeTree stores a tree whose entries are sorted the way git sorts
// them: by name, with folders compared as if their name ended in "/".
// git fsck rejects trees in any other order.
func writeTree(s storer.EncodedObjectStorer, entries []object.TreeEntry) (plumbing.Hash, error) {
	sort.Slice(entries, func(a, b int) bool {
		return sortName(entries[a]) < sortName(entries[b])
	})
	t := &object.Tree{Entries: entries}
	obj := s.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode tree: %w", err)
	}
	h, err := s.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write tree: %w", err)
	}
	return h, nil
}

func sortName(e object.TreeEntry) string {
	if e.Mode == filemode.Dir {
		return e.Name + "/"
	}
	return e.Name
}

// diffTrees returns the edits that turn tree a into tree b (either may be
// zero for an empty tree). Subtrees with equal hashes are not read, so the
// cost follows the size of the change, not of the repository.
func diffTrees(s storer.EncodedObjectStorer, a, b plumbing.Hash) ([]edit, error) {
	var out []edit
	err := diffInto(s, a, b, "", &out)
	return out, err
}

func diffInto(s storer.EncodedObjectStorer, a, b plumbing.Hash, prefix string, out *[]edit) error {
	if a == b {
		return nil
	}
	ea, err := treeEntries(s, a)
	if err != nil {
		return err
	}
	eb, err := treeEntries(s, b)
	if err != nil {
		return err
	}
	names := map[string]struct{}{}
	for n := range ea {
		names[n] = struct{}{}
	}
	for n := range eb {
		names[n] = struct{}{}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		x, inA := ea[n]
		y, inB := eb[n]
		if inA && inB && x.Hash == y.Hash && x.Mode == y.Mode {
			continue
		}
		p := prefix + n
		xDir := inA && x.Mode == filemode.Dir
		yDir := inB && y.Mode == filemode.Dir
		switch {
		case xDir && yDir:
			if err := diffInto(s, x.Hash, y.Hash, p+"/", out); err != nil {
				return err
			}
			continue
		case xDir:
			if err := diffInto(s, x.Hash, plumbing.ZeroHash, p+"/", out); err != nil {
				return err
			}
		case inA:
			*out = append(*out, edit{path: p})
		}
		switch {
		case yDir:
			if err := diffInto(s, plumbing.ZeroHash, y.Hash, p+"/", out); err != nil {
				return err
			}
		case inB:
			*out = append(*out, edit{path: p, blob: y.Hash, mode: y.Mode})
		}
	}
	return nil
}

func treeEntries(s storer.EncodedObjectStorer, h plumbing.Hash) (map[string]object.TreeEntry, error) {
	m := map[string]object.TreeEntry{}
	if h.IsZero() {
		return m, nil
	}
	t, err := object.GetTree(s, h)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	for _, e := range t.Entries {
		m[e.Name] = e
	}
	return m, nil
}

// parentTree returns the tree of c's first parent, zero for a root
// commit: what a commit's changes are measured against.
func parentTree(s storer.EncodedObjectStorer, c *object.Commit) (plumbing.Hash, error) {
	if len(c.ParentHashes) == 0 {
		return plumbing.ZeroHash, nil
	}
	p, err := object.GetCommit(s, c.ParentHashes[0])
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read commit %s: %w", c.ParentHashes[0], err)
	}
	return p.TreeHash, nil
}

// splitEdits lists the paths edits add (or change) and delete.
func splitEdits(edits []edit) (added, deleted []string) {
	for _, e := range edits {
		if e.delete() {
			deleted = append(deleted, e.path)
		} else {
			added = append(added, e.path)
		}
	}
	return added, deleted
}

// lookup finds the entry at path in the tree root.
func lookup(s storer.EncodedObjectStorer, root plumbing.Hash, path string) (object.TreeEntry, error) {
	if root.IsZero() {
		return object.TreeEntry{}, ErrNotFound
	}
	h := root
	parts := strings.Split(path, "/")
	for i, name := range parts {
		t, err := object.GetTree(s, h)
		if err != nil {
			return object.TreeEntry{}, fmt.Errorf("read tree: %w", err)
		}
		var found *object.TreeEntry
		for j := range t.Entries {
			if t.Entries[j].Name == name {
				found = &t.Entries[j]
				break
			}
		}
		if found == nil {
			return object.TreeEntry{}, ErrNotFound
		}
		if i == len(parts)-1 {
			return *found, nil
		}
		if found.Mode != filemode.Dir {
			return object.TreeEntry{}, ErrNotFound
		}
		h = found.Hash
	}
	return object.TreeEntry{}, ErrNotFound
}
