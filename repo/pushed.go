package repo

import (
	"slices"

	"github.com/go-git/go-git/v5/plumbing"
)

// What the writer records when a push ends: the commits still waiting
// (published for Pushed and Pending), the callers to answer.

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

// pushed records that the remote has head h: the tracking ref moves to h
// and the callers waiting for commits up to h are answered. It returns
// the commits that went out.
func (w *writer) pushed(h plumbing.Hash) ([]CommitInfo, error) {
	if err := w.setTracked(h); err != nil {
		return nil, err
	}
	n := -1
	for i, u := range w.chain {
		if u.hash == h {
			n = i
		}
	}
	var upTo uint64
	switch {
	case h == w.head:
		upTo, n = w.seq, len(w.chain)-1
	case n >= 0:
		upTo = w.chain[n].seq
	default:
		return nil, nil
	}
	out := make([]CommitInfo, 0, n+1)
	for _, u := range w.chain[:n+1] {
		out = append(out, u.info)
	}
	w.chain = append([]unpushed(nil), w.chain[n+1:]...)
	w.publishPending() // before a waiter hears its commit is pushed
	for p, s := range w.added {
		if s <= upTo {
			delete(w.added, p)
		}
	}
	kept := w.waiters[:0]
	for _, wt := range w.waiters {
		if wt.seq <= upTo {
			wt.ch <- outcome{hash: wt.hash}
			continue
		}
		kept = append(kept, wt)
	}
	w.waiters = kept
	return out, nil
}

// pushFailed answers every waiting caller with err. Their commits stay on
// the branch and go out with a later push. It returns the commits whose
// push failed for the first time.
func (w *writer) pushFailed(err error) []CommitInfo {
	for _, wt := range w.waiters {
		wt.ch <- outcome{hash: wt.hash, err: err}
	}
	w.waiters = nil
	var first []CommitInfo
	for i := range w.chain {
		if !w.chain[i].failed {
			w.chain[i].failed = true
			first = append(first, w.chain[i].info)
		}
	}
	return first
}
