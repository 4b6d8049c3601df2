package repo

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Commit writes c's blobs into the object store, durably, and has the
// writer commit them. It returns once the commit and the branch ref are
// on disk (synced, with their folders), in every push mode; in sync mode
// only after the push that carried the commit, and when that push failed
// with the Result and an error wrapping ErrPushFailed.
//
// Commits that reach the writer while it is busy are made as one group:
// still one commit each, chained, but with one round of syncs and one ref
// update for all of them. A change that fails fails alone.
func (r *Repo) Commit(ctx context.Context, c Change) (Result, error) {
	if r.opts.ReadOnly {
		return Result{}, errors.New("commit: repository opened read-only")
	}
	if len(c.Add) == 0 && len(c.Delete) == 0 {
		return Result{}, errors.New("commit: empty change")
	}
	for _, p := range append(paths(c.Add), c.Delete...) {
		if !validPath(p) {
			return Result{}, fmt.Errorf("commit %q: %w", p, ErrBadPath)
		}
	}
	// Large blobs are written here, on the caller's goroutine, so that a
	// large upload does not hold up the writer; small ones are read into
	// memory, for the writer to put in the group's pack. The object store
	// is content-addressed and a loose object appears by rename, so
	// writing the same blob twice at once is harmless.
	req := &commitReq{msg: c.Message, reply: make(chan commitReply, 1)}
	hashes, packed, err := r.writeBlobs(ctx, c.Add)
	req.blobs = packed
	if err != nil {
		return Result{}, err
	}
	for i, b := range c.Add {
		req.edits = append(req.edits, edit{path: b.Path, blob: hashes[i], mode: filemode.Regular})
	}
	for _, p := range c.Delete {
		req.edits = append(req.edits, edit{path: p})
	}
	if err := r.submit(ctx, req); err != nil {
		return Result{}, err
	}
	select {
	case rep := <-req.reply:
		if rep.err != nil {
			return Result{}, fmt.Errorf("commit: %w", rep.err)
		}
		return wait(ctx, rep.res, rep.wait)
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

func paths(bs []Blob) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Path
	}
	return out
}

// Duplicate reports whether path is already on the branch, with the
// Result an upload of it gets (Duplicate set), without writing anything.
// It is the writer's own duplicate check, the one Commit makes again when
// the change arrives. In sync mode, when the commit that added path is
// not pushed yet, it waits for that push, and fails with ErrPushFailed as
// Commit does.
func (r *Repo) Duplicate(ctx context.Context, path string) (Result, bool, error) {
	if !validPath(path) {
		return Result{}, false, fmt.Errorf("duplicate %q: %w", path, ErrBadPath)
	}
	rep, err := call(ctx, r.do, func(w *writer) commitReply {
		res, ok, wait, err := w.duplicate(path)
		return commitReply{res: res, dup: ok, wait: wait, err: err}
	})
	if err != nil {
		return Result{}, false, err
	}
	if rep.err != nil || !rep.dup {
		return rep.res, rep.dup, rep.err
	}
	res, err := wait(ctx, rep.res, rep.wait)
	return res, true, err
}

// wait blocks, in sync mode, until the push carrying res's commit ended.
// The pushed commit's hash differs from the local one when the commit was
// re-applied onto a moved remote.
func wait(ctx context.Context, res Result, ch <-chan outcome) (Result, error) {
	if ch == nil {
		return res, nil
	}
	select {
	case o := <-ch:
		res.Commit = o.hash.String()
		if o.err != nil {
			return res, fmt.Errorf("commit %.12s: %w", res.Commit, o.err)
		}
		res.Pushed = true
		return res, nil
	case <-ctx.Done():
		return res, ctx.Err()
	}
}

// call runs f on the writer goroutine, handed over by send (Repo.do for
// callers, Repo.internal for the pusher), and returns what f returned:
// the one round trip to the writer.
func call[T any](ctx context.Context, send func(context.Context, func(*writer)) error, f func(*writer) T) (T, error) {
	ch := make(chan T, 1)
	var zero T
	if err := send(ctx, func(w *writer) { ch <- f(w) }); err != nil {
		return zero, err
	}
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// do runs f on the writer goroutine.
func (r *Repo) do(ctx context.Context, f func(*writer)) error { return hand(ctx, r, r.ops, f) }

// submit hands a commit to the writer, which groups the commits waiting.
func (r *Repo) submit(ctx context.Context, req *commitReq) error {
	return hand(ctx, r, r.commits, req)
}

// hand gives v to the writer on ch, unless the repository is closed or
// ctx ends first.
func hand[T any](ctx context.Context, r *Repo, ch chan<- T, v T) error {
	r.notReentrant()
	select {
	case <-r.closed:
		return ErrClosed
	default:
	}
	select {
	case ch <- v:
		return nil
	case <-r.closed:
		return ErrClosed
	case <-r.stopped:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// internal runs f on the writer goroutine for the pusher, which keeps
// working after Close until the final push is done.
func (r *Repo) internal(ctx context.Context, f func(*writer)) error {
	select {
	case r.ops <- f:
		return nil
	case <-r.stopped:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// notReentrant enforces the contract of Options.Notify: it runs on the
// writer goroutine, so a call from it back into Repo would wait for
// itself forever. Such a call panics, saying why, instead.
func (r *Repo) notReentrant() {
	if r.notifying.Load() && goroutineID() == r.writerID.Load() {
		panic("repo: Options.Notify called back into Repo; it runs on the writer goroutine and must only hand the notice on")
	}
}

// goroutineID is the number the runtime prints for the calling goroutine.
// It is read only while a notice is being delivered.
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	// "goroutine 123 [running]: ..."
	const prefix = len("goroutine ")
	end := prefix
	for end < len(b) && b[end] >= '0' && b[end] <= '9' {
		end++
	}
	id, _ := strconv.ParseUint(string(b[prefix:end]), 10, 64)
	return id
}

// Head returns the branch head, "" for a branch without commits.
func (r *Repo) Head(ctx context.Context) (string, error) {
	h, err := call(ctx, r.do, func(w *writer) plumbing.Hash { return w.head })
	if err != nil || h.IsZero() {
		return "", err
	}
	return h.String(), nil
}

// Pending returns the number of commits on the branch that the remote
// does not have yet: 0 when push is off. It never blocks, so metrics can
// read it while the writer is busy.
func (r *Repo) Pending() int { return int(r.pending.Load()) }

// Healthy returns nil when the writer is not stuck and the branch can be
// read, without waiting in the writer's queue: a health check must answer
// within a second while a gallery of uploads is committed.
func (r *Repo) Healthy(ctx context.Context) error {
	select {
	case <-r.closed:
		return ErrClosed
	default:
	}
	if since := r.busySince.Load(); since != 0 && time.Since(time.Unix(0, since)) > r.opts.StuckAfter {
		return fmt.Errorf("repository writer: stuck on one task for %s", time.Since(time.Unix(0, since)).Round(time.Second))
	}
	// A branch caught between two of the writer's updates, or a pack the
	// reader has not seen yet, gets a second look before it counts: a
	// health check must not flap under load.
	err := r.readHead()
	if err != nil {
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return err
		}
		err = r.readHead()
	}
	return err
}

// readHead reads the branch and its head commit with the reader's storage,
// and checks the branch is where the writer left it.
func (r *Repo) readHead() error {
	want, _ := r.head.Load().(plumbing.Hash)
	idle := r.busySince.Load() == 0
	rd := r.reader
	rd.mu.Lock()
	defer rd.mu.Unlock()
	h, err := refHash(rd.st, r.branch)
	if err != nil {
		return fmt.Errorf("read branch: %w", err)
	}
	if h != want && idle && r.busySince.Load() == 0 {
		if now, _ := r.head.Load().(plumbing.Hash); now == want {
			return fmt.Errorf("branch %s moved outside spano: %s, expected %s", r.opts.Branch, h, want)
		}
	}
	if h.IsZero() {
		return nil
	}
	if _, err := object.GetCommit(rd.st, h); err != nil {
		return fmt.Errorf("read head %s: %w", h, err)
	}
	return nil
}
