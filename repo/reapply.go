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
	base := onto
	baseCommit, err := object.GetCommit(w.ob, onto)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read fetched head %s: %w", onto, err)
	}
	baseTree := baseCommit.TreeHash
	mapping := map[plumbing.Hash]plumbing.Hash{}
	var chain []unpushed
	now := w.r.opts.Now().Truncate(time.Second)
	for _, u := range w.chain {
		c, err := object.GetCommit(w.ob, u.hash)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("read commit %s: %w", u.hash, err)
		}
		before, err := parentTree(w.ob, c)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		edits, err := diffTrees(w.ob, before, c.TreeHash)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		var conflicts []string
		tree, err := applyEdits(w.ob, baseTree, edits, editOptions{lenient: true, conflicts: &conflicts})
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("re-apply %s: %w", u.hash, err)
		}
		for _, p := range conflicts {
			w.r.log.Error("re-apply: path on the remote holds other bytes; kept the remote's", "path", p, "commit", u.hash.String())
		}
		if tree == baseTree {
			mapping[u.hash] = base // already on the remote
			continue
		}
		committer := object.Signature{Name: w.r.opts.AuthorName, Email: w.r.opts.AuthorEmail, When: now}
		h, err := writeCommit(w.ob, &object.Commit{
			Author: c.Author, Committer: committer, Message: c.Message,
			TreeHash: tree, ParentHashes: []plumbing.Hash{base},
		})
		if err != nil {
			return plumbing.ZeroHash, err
		}
		mapping[u.hash] = h
		u.hash = h
		u.info.Hash = h.String()
		chain = append(chain, u)
		base, baseTree = h, tree
	}
	if err := w.setBranch(base, w.head, nil); err != nil {
		return plumbing.ZeroHash, err
	}
	// Tracking moves after the branch: if spano dies in between, the next
	// start sees the fetched commits as unpushed, and re-applying them is
	// a no-op. The other order would lose the way back.
	if err := w.setTracked(onto); err != nil {
		return plumbing.ZeroHash, err
	}
	w.chain = chain
	for i := range w.waiters {
		if h, ok := mapping[w.waiters[i].hash]; ok {
			w.waiters[i].hash = h
		}
	}
	return base, nil
}
