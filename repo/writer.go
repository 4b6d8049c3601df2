package repo

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// writer is the only code that moves the branch and the remote-tracking
// ref. It runs on one goroutine; everything reaches it as a closure on
// Repo.ops, so its fields need no locks.
type writer struct {
	r       *Repo
	st      *storage
	head    plumbing.Hash // branch head; zero before the first commit
	tracked plumbing.Hash // remote-tracking ref: what the remote has of ours

	seq   uint64     // sequence number of the newest commit
	chain []unpushed // commits between tracked and head, oldest first
	// added maps the paths added by unpushed commits to their sequence
	// number, so a duplicate of an unpushed file waits for its push.
	added   map[string]uint64
	waiters []waiter // sync mode: callers waiting for a push, by seq

	sinceGC int // commits since the last git gc --auto
}

type unpushed struct {
	seq  uint64
	hash plumbing.Hash
	info CommitInfo
	// failed is set once a push carrying the commit failed and that was
	// reported: a long outage reports each commit once, not every retry.
	failed bool
}

// A waiter is a caller of Commit in sync mode, waiting for the push that
// carries commit seq.
type waiter struct {
	seq  uint64
	hash plumbing.Hash
	ch   chan outcome
}

type outcome struct {
	hash plumbing.Hash
	err  error
}

func newWriter(r *Repo) (*writer, error) {
	w := &writer{r: r, st: r.newStorage(), added: map[string]uint64{}}
	head, err := refHash(w.st, r.branch)
	if err != nil {
		return nil, fmt.Errorf("read branch %s: %w", r.opts.Branch, err)
	}
	tracked, err := refHash(w.st, r.track)
	if err != nil {
		return nil, fmt.Errorf("read remote-tracking branch: %w", err)
	}
	w.head, w.tracked = head, tracked
	if r.opts.Push != PushOff {
		if err := w.loadChain(); err != nil {
			return nil, err
		}
		if n := len(w.chain); n > 0 {
			r.log.Info("commits waiting to be pushed", "count", n)
		}
	}
	return w, nil
}

func refHash(st *storage, name plumbing.ReferenceName) (plumbing.Hash, error) {
	ref, err := st.Reference(name)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return ref.Hash(), nil
}

// loadChain finds the commits not yet pushed after a restart: those on the
// first-parent line from head back to the remote-tracking ref.
func (w *writer) loadChain() error {
	infos, err := line(w.st, w.head, w.tracked, 0)
	if err != nil {
		return fmt.Errorf("read unpushed commits: %w", err)
	}
	for _, info := range infos {
		w.seq++
		w.chain = append(w.chain, unpushed{seq: w.seq, hash: plumbing.NewHash(info.Hash), info: info})
		for _, p := range info.Added {
			w.added[p] = w.seq
		}
	}
	return nil
}

// line returns the commits on the first-parent line from h back to (not
// including) stop, or to the root, oldest first; at most max (0: no
// bound) of the newest.
func line(st *storage, h, stop plumbing.Hash, max int) ([]CommitInfo, error) {
	var rev []CommitInfo
	for !h.IsZero() && h != stop && (max == 0 || len(rev) < max) {
		c, err := object.GetCommit(st, h)
		if err != nil {
			return nil, fmt.Errorf("read commit %s: %w", h, err)
		}
		info, err := commitInfo(st, c)
		if err != nil {
			return nil, err
		}
		rev = append(rev, info)
		h = plumbing.ZeroHash
		if len(c.ParentHashes) > 0 {
			h = c.ParentHashes[0]
		}
	}
	slices.Reverse(rev)
	return rev, nil
}

// commitInfo describes c, with the paths it changed against its first
// parent.
func commitInfo(st *storage, c *object.Commit) (CommitInfo, error) {
	before, err := parentTree(st, c)
	if err != nil {
		return CommitInfo{}, err
	}
	edits, err := diffTrees(st, before, c.TreeHash)
	if err != nil {
		return CommitInfo{}, err
	}
	info := CommitInfo{Hash: c.Hash.String(), Message: ParseMessage(c.Message), Time: c.Author.When}
	info.Added, info.Deleted = splitEdits(edits)
	return info, nil
}

func (w *writer) run() {
	defer close(w.r.stopped)
	defer w.st.Close()
	w.r.pending.Store(int64(len(w.chain)))
	for {
		select {
		case f := <-w.r.ops:
			f(w)
			// Every change of the chain happens in an op: commit, pushed, re-apply.
			w.r.pending.Store(int64(len(w.chain)))
		case <-w.r.quit:
			return
		}
	}
}

func (w *writer) headTree() (plumbing.Hash, error) {
	if w.head.IsZero() {
		return plumbing.ZeroHash, nil
	}
	c, err := object.GetCommit(w.st, w.head)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read head %s: %w", w.head, err)
	}
	return c.TreeHash, nil
}

func (w *writer) syncMode() bool { return w.r.opts.Push == PushSync }

// duplicate reports whether path is on the branch. In sync mode a path
// added by an unpushed commit comes with a channel that tells when that
// commit was pushed.
func (w *writer) duplicate(path string) (Result, bool, <-chan outcome, error) {
	root, err := w.headTree()
	if err != nil {
		return Result{}, false, nil, err
	}
	if _, err := lookup(w.st, root, path); errors.Is(err, ErrNotFound) {
		return Result{}, false, nil, nil
	} else if err != nil {
		return Result{}, false, nil, err
	}
	res := Result{Commit: w.head.String(), Duplicate: true, Pushed: w.r.opts.Push != PushOff}
	seq, waiting := w.added[path]
	if !waiting {
		return res, true, nil, nil
	}
	res.Pushed = false
	for _, u := range w.chain {
		if u.seq == seq {
			res.Commit = u.hash.String()
		}
	}
	if !w.syncMode() {
		return res, true, nil, nil
	}
	wait := w.wait(seq, plumbing.NewHash(res.Commit))
	// The client retries an upload whose push failed: try again now
	// rather than after the pusher's backoff.
	w.r.pusher.kick(true)
	return res, true, wait, nil
}

func (w *writer) wait(seq uint64, h plumbing.Hash) <-chan outcome {
	ch := make(chan outcome, 1)
	w.waiters = append(w.waiters, waiter{seq: seq, hash: h, ch: ch})
	return ch
}

// commit applies edits to the branch head in one commit. A change whose
// first edit adds a path that is already there, or that changes nothing,
// is a duplicate.
func (w *writer) commit(edits []edit, msg Message) (Result, <-chan outcome, error) {
	if len(edits) > 0 && !edits[0].delete() {
		if res, dup, wait, err := w.duplicate(edits[0].path); err != nil || dup {
			return res, wait, err
		}
	}
	root, err := w.headTree()
	if err != nil {
		return Result{}, nil, err
	}
	tree, err := applyEdits(w.st, root, edits, editOptions{})
	if err != nil {
		return Result{}, nil, err
	}
	if tree == root {
		return Result{Commit: w.head.String(), Duplicate: true, Pushed: w.r.opts.Push != PushOff && len(w.chain) == 0}, nil, nil
	}
	sig := object.Signature{Name: w.r.opts.AuthorName, Email: w.r.opts.AuthorEmail, When: w.r.opts.Now().Truncate(time.Second)}
	var parents []plumbing.Hash
	if !w.head.IsZero() {
		parents = []plumbing.Hash{w.head}
	}
	h, err := writeCommit(w.st, &object.Commit{
		Author: sig, Committer: sig, Message: msg.String(), TreeHash: tree, ParentHashes: parents,
	})
	if err != nil {
		return Result{}, nil, err
	}
	if err := w.moveBranch(h); err != nil {
		return Result{}, nil, err
	}
	if w.sinceGC++; w.r.gc != nil && w.sinceGC >= w.r.opts.GCEvery {
		w.sinceGC = 0
		w.r.gc.run()
	}
	res := Result{Commit: h.String()}
	info := CommitInfo{Hash: h.String(), Message: msg, Time: sig.When}
	info.Added, info.Deleted = splitEdits(edits)
	if w.r.pusher == nil {
		w.notify(info)
		return res, nil, nil
	}

	w.seq++
	for _, p := range info.Deleted {
		delete(w.added, p)
	}
	for _, p := range info.Added {
		w.added[p] = w.seq
	}
	w.chain = append(w.chain, unpushed{seq: w.seq, hash: h, info: info})
	w.notify(info)
	var wait <-chan outcome
	if w.syncMode() {
		wait = w.wait(w.seq, h)
	}
	w.r.pusher.kick(w.syncMode())
	return res, wait, nil
}

func writeCommit(st *storage, c *object.Commit) (plumbing.Hash, error) {
	obj := st.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode commit: %w", err)
	}
	h, err := st.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write commit: %w", err)
	}
	return h, nil
}

// moveBranch moves the branch from w.head to h, checking that nobody else
// moved it meanwhile (a person running git in the clone, say).
func (w *writer) moveBranch(h plumbing.Hash) error {
	var old *plumbing.Reference
	if !w.head.IsZero() {
		old = plumbing.NewHashReference(w.r.branch, w.head)
	}
	if err := w.st.CheckAndSetReference(plumbing.NewHashReference(w.r.branch, h), old); err != nil {
		return fmt.Errorf("update %s: %w", w.r.branch.Short(), err)
	}
	w.head = h
	return nil
}

func (w *writer) notify(info CommitInfo) {
	if w.r.opts.Notify != nil {
		w.r.opts.Notify(Notice{Kind: NoticeCommitted, Commits: []CommitInfo{info}})
	}
}

// snapshot tells the pusher what to push.
func (w *writer) snapshot() (head, tracked plumbing.Hash) { return w.head, w.tracked }

// pushed records that the remote has head h: the tracking ref moves to h
// and the callers waiting for commits up to h are answered. It returns
// the commits that went out.
func (w *writer) pushed(h plumbing.Hash) ([]CommitInfo, error) {
	if err := w.st.SetReference(plumbing.NewHashReference(w.r.track, h)); err != nil {
		return nil, fmt.Errorf("update %s: %w", w.r.track.Short(), err)
	}
	w.tracked = h
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

// reapply re-applies the unpushed commits onto onto, the remote's new
// head: each commit's tree edits (against its parent) are applied to the
// new base, keeping message and author; the committer is spano, now. A
// commit whose edits are already on the remote is dropped. The branch
// and the tracking ref then point at the new line. This is a rebase
// without a worktree: spano's commits only add and remove files at
// content-addressed paths, so they cannot conflict with anyone's content.
func (w *writer) reapply(onto plumbing.Hash) (plumbing.Hash, error) {
	base := onto
	baseCommit, err := object.GetCommit(w.st, onto)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read fetched head %s: %w", onto, err)
	}
	baseTree := baseCommit.TreeHash
	mapping := map[plumbing.Hash]plumbing.Hash{}
	var chain []unpushed
	now := w.r.opts.Now().Truncate(time.Second)
	for _, u := range w.chain {
		c, err := object.GetCommit(w.st, u.hash)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("read commit %s: %w", u.hash, err)
		}
		before, err := parentTree(w.st, c)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		edits, err := diffTrees(w.st, before, c.TreeHash)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		var conflicts []string
		tree, err := applyEdits(w.st, baseTree, edits, editOptions{lenient: true, conflicts: &conflicts})
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
		h, err := writeCommit(w.st, &object.Commit{
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
	if err := w.moveBranch(base); err != nil {
		return plumbing.ZeroHash, err
	}
	// Tracking moves after the branch: if spano dies in between, the next
	// start sees the fetched commits as unpushed, and re-applying them is
	// a no-op. The other order would lose the way back.
	if err := w.st.SetReference(plumbing.NewHashReference(w.r.track, onto)); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("update %s: %w", w.r.track.Short(), err)
	}
	w.tracked = onto
	w.chain = chain
	for i := range w.waiters {
		if h, ok := mapping[w.waiters[i].hash]; ok {
			w.waiters[i].hash = h
		}
	}
	return base, nil
}

// check is the health check: the branch can be read.
func (w *writer) check() error {
	h, err := refHash(w.st, w.r.branch)
	if err != nil {
		return fmt.Errorf("read branch: %w", err)
	}
	if h != w.head {
		return fmt.Errorf("branch %s moved outside spano: %s, expected %s", w.r.opts.Branch, h, w.head)
	}
	if _, err := w.headTree(); err != nil {
		return err
	}
	return nil
}
