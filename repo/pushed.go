package repo

import (
	"slices"

	"github.com/go-git/go-git/v5/plumbing"
)

// unpushedSet is the writer's last published list of commits waiting to
// be pushed, oldest first, and the same as a set.
type unpushedSet struct {
	chain []plumbing.Hash
	set   map[string]struct{}
}

// Pushed reports whether commit is on the remote as far as this spano
// knows: it is not one of the commits waiting to be pushed. With push off
// there is no remote and nothing is pushed, so it is false, as a 201's
// `pushed` is. It never waits for the writer: it reads the set of
// unpushed commits the writer last published.
func (r *Repo) Pushed(commit string) bool {
	if r.opts.Push == PushOff || commit == "" {
		return false
	}
	if u := r.unpushed.Load(); u != nil {
		_, waiting := u.set[commit]
		return !waiting
	}
	return true
}

// publishPending publishes the count and the set of unpushed commits for
// Pending and Pushed, which must not wait behind a commit in progress.
// The set is rebuilt only when the chain changed.
func (w *writer) publishPending() {
	w.r.pending.Store(int64(len(w.chain)))
	old := w.r.unpushed.Load()
	if old != nil && slices.EqualFunc(old.chain, w.chain, func(h plumbing.Hash, u unpushed) bool { return h == u.hash }) {
		return
	}
	next := &unpushedSet{chain: make([]plumbing.Hash, len(w.chain)), set: make(map[string]struct{}, len(w.chain))}
	for i, u := range w.chain {
		next.chain[i] = u.hash
		next.set[u.hash.String()] = struct{}{}
	}
	w.r.unpushed.Store(next)
}
