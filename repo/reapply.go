package repo

import (
	"fmt"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// reapply re-applies the unpushed commits onto onto, the remote's new
// head: each commit's tree edits (against its parent) are applied to the
// new base, keeping message and author; the committer is spano, now. A
// commit whose edits are already on the remote is dropped. The branch
// and the tracking ref then point at the new line. This is a rebase
// without a worktree: spano's commits only add and remove files at
// content-addressed paths, so they cannot conflict with anyone's content.
func (w *writer) reapply(onto plumbing.Hash) (plumbing.Hash, error) {
	rb, err := w.rebuild(onto, w.chain)
	if err != nil {
		w.ob.drop() // the objects of a line that will not be the branch
		return plumbing.ZeroHash, err
	}
	if err := w.setBranch(rb.head, w.head, nil); err != nil {
		return plumbing.ZeroHash, err
	}
	// Tracking moves after the branch: if spano dies in between, the next
	// start sees the fetched commits as unpushed, and re-applying them is
	// a no-op. The other order would lose the way back.
	if err := w.setTracked(onto); err != nil {
		return plumbing.ZeroHash, err
	}
	w.chain = rb.chain
	w.remapWaiters(rb.mapping)
	return rb.head, nil
}

// rebuilt is a line of commits re-applied onto a new base.
type rebuilt struct {
	head  plumbing.Hash // the last commit of the new line (the base when it is empty)
	chain []unpushed    // the commits of the new line, oldest first
	// mapping takes each old commit to its new one, or to the base it
	// was dropped onto when its edits were already there.
	mapping map[plumbing.Hash]plumbing.Hash
}

// rebuild re-applies the commits of chain, in order, onto base (zero for
// a line with no parent), writing the new trees and commits but moving
// no ref: the caller moves the branch once they are durable.
func (w *writer) rebuild(base plumbing.Hash, chain []unpushed) (rebuilt, error) {
	var baseTree plumbing.Hash
	if !base.IsZero() {
		baseCommit, err := object.GetCommit(w.ob, base)
		if err != nil {
			return rebuilt{}, fmt.Errorf("read base %s: %w", base, err)
		}
		baseTree = baseCommit.TreeHash
	}
	out := rebuilt{mapping: map[plumbing.Hash]plumbing.Hash{}}
	now := w.r.opts.Now().Truncate(time.Second)
	for _, u := range chain {
		c, err := object.GetCommit(w.ob, u.hash)
		if err != nil {
			return rebuilt{}, fmt.Errorf("read commit %s: %w", u.hash, err)
		}
		before, err := parentTree(w.ob, c)
		if err != nil {
			return rebuilt{}, err
		}
		edits, err := diffTrees(w.ob, before, c.TreeHash)
		if err != nil {
			return rebuilt{}, err
		}
		var conflicts []string
		tree, err := applyEdits(w.ob, baseTree, edits, editOptions{lenient: true, conflicts: &conflicts})
		if err != nil {
			return rebuilt{}, fmt.Errorf("re-apply %s: %w", u.hash, err)
		}
		for _, p := range conflicts {
			w.r.log.Error("re-apply: path on the new base holds other bytes; kept the base's", "path", p, "commit", u.hash.String())
		}
		if tree == baseTree {
			out.mapping[u.hash] = base // already on the base
			continue
		}
		var parents []plumbing.Hash
		if !base.IsZero() {
			parents = []plumbing.Hash{base}
		}
		committer := object.Signature{Name: w.r.opts.AuthorName, Email: w.r.opts.AuthorEmail, When: now}
		h, err := writeCommit(w.ob, &object.Commit{
			Author: c.Author, Committer: committer, Message: c.Message,
			TreeHash: tree, ParentHashes: parents,
		})
		if err != nil {
			return rebuilt{}, err
		}
		out.mapping[u.hash] = h
		u.hash = h
		u.info.Hash = h.String()
		out.chain = append(out.chain, u)
		base, baseTree = h, tree
	}
	out.head = base
	return out, nil
}

// remapWaiters points the callers waiting for re-applied commits at
// their new hashes, the ones the push will carry.
func (w *writer) remapWaiters(mapping map[plumbing.Hash]plumbing.Hash) {
	for i := range w.waiters {
		if h, ok := mapping[w.waiters[i].hash]; ok {
			w.waiters[i].hash = h
		}
	}
}
