package repo

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// writer is the only code that moves the branch and the remote-tracking
// ref. It runs on one goroutine; everything reaches it as a closure on
// Repo.ops, so its fields need no locks.
type writer struct {
	r       *Repo
	st      *storage
	ob      *overlay      // objects, through st: the writer's own in memory
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
	w.ob = newOverlay(w.st)
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
	w.r.writerID.Store(goroutineID())
	w.publishPending()
	w.r.head.Store(w.head)
	for {
		select {
		case f := <-w.r.ops:
			w.r.busySince.Store(time.Now().UnixNano())
			f(w)
		case req := <-w.r.commits:
			w.r.busySince.Store(time.Now().UnixNano())
			w.commitGroup(w.group(req))
		case <-w.r.quit:
			return
		}
		// Every change of the chain happens here: commit, pushed, re-apply.
		w.publishPending()
		w.r.head.Store(w.head)
		w.r.busySince.Store(0)
	}
}

func (w *writer) headTree() (plumbing.Hash, error) {
	if w.head.IsZero() {
		return plumbing.ZeroHash, nil
	}
	c, err := object.GetCommit(w.ob, w.head)
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
	if _, err := lookup(w.ob, root, path); errors.Is(err, ErrNotFound) {
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

// A commitReq is one Change on its way to the writer, its blobs written.
type commitReq struct {
	edits []edit
	blobs []plumbing.EncodedObject // in memory, for the group's pack
	msg   Message
	reply chan commitReply // buffered: the writer never blocks on it
}

type commitReply struct {
	res  Result
	dup  bool // Duplicate only
	wait <-chan outcome
	err  error
}

// maxGroup bounds how many commits one group holds, so that one round of
// syncs never grows without end under a flood.
const maxGroup = 256

// group takes first and every commit already waiting behind it.
func (w *writer) group(first *commitReq) []*commitReq {
	reqs := []*commitReq{first}
	for len(reqs) < maxGroup {
		select {
		case req := <-w.r.commits:
			reqs = append(reqs, req)
		default:
			return reqs
		}
	}
	return reqs
}

// made is a commit of a group, written but not yet on the branch.
type made struct {
	req  *commitReq
	hash plumbing.Hash
	info CommitInfo
}

// commitGroup makes one commit per request, each on top of the one
// before, then syncs all their objects and moves the branch once. A
// request that fails (its path taken, a delete of a missing file) is
// answered alone; a failure to sync or move the branch fails the whole
// group, and the branch stays where it was.
func (w *writer) commitGroup(reqs []*commitReq) {
	start := w.head
	var group []made
	var later []*commitReq // duplicates of a file added earlier in the group
	added := map[string]bool{}
	for _, req := range reqs {
		if first := req.edits[0]; !first.delete() && added[first.path] {
			later = append(later, req)
			continue
		}
		m, dup, err := w.commitOne(req)
		switch {
		case err != nil:
			req.reply <- commitReply{err: err}
		case dup != nil:
			req.reply <- *dup
		default:
			group = append(group, m)
			for _, p := range m.info.Added {
				added[p] = true
			}
		}
	}
	if len(group) > 0 {
		var blobs []plumbing.Hash // written loose
		for _, m := range group {
			for _, e := range m.req.edits {
				if !e.delete() && !slices.ContainsFunc(m.req.blobs, func(b plumbing.EncodedObject) bool { return b.Hash() == e.blob }) {
					blobs = append(blobs, e.blob)
				}
			}
		}
		if err := w.setBranch(w.head, start, blobs); err != nil {
			w.head = start
			for _, m := range group {
				m.req.reply <- commitReply{err: err}
			}
			group = nil
		}
	}
	if len(group) == 0 {
		w.ob.drop() // the trees of changes that failed half-way
	}
	w.committed(group)
	for _, req := range later {
		res, dup, wait, err := w.duplicate(req.edits[0].path)
		req.reply <- commitReply{res: res, dup: dup, wait: wait, err: err}
	}
}

// commitOne writes req's trees and commit on top of w.head and advances
// w.head (not the branch). A change whose first edit adds a path that is
// already there, or that changes nothing, is a duplicate: its reply is
// returned instead.
func (w *writer) commitOne(req *commitReq) (made, *commitReply, error) {
	if first := req.edits[0]; !first.delete() {
		if res, dup, wait, err := w.duplicate(first.path); err != nil || dup {
			return made{}, &commitReply{res: res, dup: dup, wait: wait}, err
		}
	}
	root, err := w.headTree()
	if err != nil {
		return made{}, nil, err
	}
	for _, b := range req.blobs {
		if _, err := w.ob.SetEncodedObject(b); err != nil {
			return made{}, nil, err
		}
	}
	tree, err := applyEdits(w.ob, root, req.edits, editOptions{})
	if err != nil {
		return made{}, nil, err
	}
	if tree == root {
		res := Result{Commit: w.head.String(), Duplicate: true, Pushed: w.r.opts.Push != PushOff && len(w.chain) == 0}
		return made{}, &commitReply{res: res}, nil
	}
	sig := object.Signature{Name: w.r.opts.AuthorName, Email: w.r.opts.AuthorEmail, When: w.r.opts.Now().Truncate(time.Second)}
	var parents []plumbing.Hash
	if !w.head.IsZero() {
		parents = []plumbing.Hash{w.head}
	}
	h, err := writeCommit(w.ob, &object.Commit{
		Author: sig, Committer: sig, Message: req.msg.String(), TreeHash: tree, ParentHashes: parents,
	})
	if err != nil {
		return made{}, nil, err
	}
	w.head = h
	info := CommitInfo{Hash: h.String(), Message: req.msg, Time: sig.When}
	info.Added, info.Deleted = splitEdits(req.edits)
	return made{req: req, hash: h, info: info}, nil, nil
}

// committed records the group's commits, now on the branch and durable:
// the push queue, one notice for the group, the replies, one kick.
func (w *writer) committed(group []made) {
	if len(group) == 0 {
		return
	}
	if w.sinceGC += len(group); w.r.gc != nil && w.sinceGC >= w.r.opts.GCEvery {
		w.sinceGC = 0
		w.r.gc.run()
	}
	infos := make([]CommitInfo, len(group))
	waits := make([]<-chan outcome, len(group))
	for i, m := range group {
		infos[i] = m.info
		if w.r.pusher == nil {
			continue
		}
		w.seq++
		for _, p := range m.info.Deleted {
			delete(w.added, p)
		}
		for _, p := range m.info.Added {
			w.added[p] = w.seq
		}
		w.chain = append(w.chain, unpushed{seq: w.seq, hash: m.hash, info: m.info})
		if w.syncMode() {
			waits[i] = w.wait(w.seq, m.hash)
		}
	}
	w.publishPending() // before any caller hears of its commit
	w.notify(Notice{Kind: NoticeCommitted, Commits: infos})
	for i, m := range group {
		m.req.reply <- commitReply{res: Result{Commit: m.hash.String()}, wait: waits[i]}
	}
	if w.r.pusher != nil {
		w.r.pusher.kick(w.syncMode())
	}
}

func writeCommit(st storer.EncodedObjectStorer, c *object.Commit) (plumbing.Hash, error) {
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

// setBranch moves the branch from old to h, durably, checking that
// nobody else moved it meanwhile (a person running git in the clone, say),
// once the objects it names are durable: the trees and commits the
// writer holds in memory, written now as one pack, and the folders of
// blobs, whose files writeBlob synced. w.head is already h, or is set to
// it. On failure the pack is not installed and its objects are
// forgotten.
func (w *writer) setBranch(h, old plumbing.Hash, blobs []plumbing.Hash) error {
	pk, err := w.ob.writePack(w.r.opts.Path)
	if err == nil {
		err = setRef(w.r.opts.Syncer, w.st, w.r.opts.Path, w.r.branch, h, &old, pk, blobs)
	}
	if err != nil {
		if pk != nil {
			pk.abort()
		}
		w.ob.drop()
		return err
	}
	if objs := w.ob.written(); w.r.recent != nil {
		w.r.recent.add(objs)
	}
	w.head = h
	return nil
}

// setTracked moves the remote-tracking ref to h.
func (w *writer) setTracked(h plumbing.Hash) error {
	if err := setRef(w.r.opts.Syncer, w.st, w.r.opts.Path, w.r.track, h, nil, nil, nil); err != nil {
		return err
	}
	w.tracked = h
	return nil
}

// notify hands n to Options.Notify, on the writer goroutine; a Notify
// that calls back into Repo panics (see Repo.notReentrant).
func (w *writer) notify(n Notice) {
	if w.r.opts.Notify == nil {
		return
	}
	w.r.notifying.Store(true)
	defer w.r.notifying.Store(false)
	w.r.opts.Notify(n)
}
