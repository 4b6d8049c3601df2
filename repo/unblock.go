package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// refusedPrefix holds the refs that keep the commits Unblock dropped, so
// that nothing is lost: refs/spano/refused/<hash>.
const refusedPrefix = "refs/spano/refused/"

// ErrNothingBlocked: Unblock found no refused commit to drop (the remote
// took every commit), and none was named.
var ErrNothingBlocked = errors.New("nothing to unblock: the remote accepts every unpushed commit")

// Unblocked tells what Unblock did.
type Unblocked struct {
	Dropped   CommitInfo // the commit taken off the push queue
	Ref       string     // the ref that keeps it: refs/spano/refused/<hash>
	Head      string     // the branch head after, without it
	Reapplied int        // commits after it, re-applied onto its parent
}

type unblockReq struct {
	commit string
	reply  chan unblockReply
}

type unblockReply struct {
	res Unblocked
	err error
}

// Unblock takes commit (a full hash or an unambiguous prefix of at least
// 7 characters; "" for the one the remote refuses) off the unpushed
// commits: the commits after it are re-applied onto its parent, without
// it, the branch moves to the new line, and the pusher pushes it. The
// remote's history is untouched (never a force push); the dropped commit
// stays reachable from refs/spano/refused/<hash>. With commit "" and no
// refusal known yet, a push finds out first; ErrNothingBlocked when the
// remote takes everything.
//
// It runs on the pusher's goroutine, between pushes.
func (r *Repo) Unblock(ctx context.Context, commit string) (Unblocked, error) {
	if r.pusher == nil {
		return Unblocked{}, errors.New("unblock: push is off (no remote, or read-only)")
	}
	req := unblockReq{commit: strings.ToLower(strings.TrimSpace(commit)), reply: make(chan unblockReply, 1)}
	select {
	case r.pusher.unblockc <- req:
	case <-r.closed:
		return Unblocked{}, ErrClosed
	case <-ctx.Done():
		return Unblocked{}, ctx.Err()
	}
	select {
	case rep := <-req.reply:
		if rep.err != nil {
			return Unblocked{}, fmt.Errorf("unblock: %w", rep.err)
		}
		return rep.res, nil
	case <-ctx.Done():
		return Unblocked{}, ctx.Err()
	}
}

// unblock serves an Unblock on the pusher goroutine, so that no push is
// under way while the branch is rewritten.
func (p *pusher) unblock(req unblockReq) {
	ctx, cancel := context.WithTimeout(context.Background(), networkTimeout)
	defer cancel()
	res, err := p.drop(ctx, req.commit)
	req.reply <- unblockReply{res: res, err: err}
}

func (p *pusher) drop(ctx context.Context, target string) (Unblocked, error) {
	if err := p.acquire(); err != nil {
		return Unblocked{}, err
	}
	if target == "" {
		b := p.blockedNow.Load()
		if b == nil {
			// Nothing refused since the start: push to find out.
			err := p.push(ctx)
			var blocked *PushBlockedError
			switch {
			case errors.As(err, &blocked):
				p.onBlocked(blocked)
				b = blocked
			case err != nil:
				return Unblocked{}, fmt.Errorf("push to find the refused commit: %w", err)
			default:
				p.unblocked()
				return Unblocked{}, ErrNothingBlocked
			}
		}
		target = b.Commit
	}
	type reply struct {
		res Unblocked
		err error
	}
	rep, err := call(ctx, p.r.internal, func(w *writer) reply {
		res, err := w.drop(target)
		return reply{res, err}
	})
	if err == nil {
		err = rep.err
	}
	if err != nil {
		return Unblocked{}, err
	}
	p.r.log.Warn("dropped a commit from the push queue; the others are re-applied without it",
		"commit", rep.res.Dropped.Hash, "kept_at", rep.res.Ref, "reapplied", rep.res.Reapplied, "head", rep.res.Head)
	p.unblocked()
	p.kick(true)
	return rep.res, nil
}

// drop takes the unpushed commit named by target off the chain: its
// successors are re-applied onto its parent and the branch moves there,
// after a ref under refusedPrefix keeps the commit itself.
func (w *writer) drop(target string) (Unblocked, error) {
	i, err := w.find(target)
	if err != nil {
		return Unblocked{}, err
	}
	u := w.chain[i]
	c, err := object.GetCommit(w.st, u.hash)
	if err != nil {
		return Unblocked{}, fmt.Errorf("read commit %s: %w", u.hash, err)
	}
	var parent plumbing.Hash
	if len(c.ParentHashes) > 0 {
		parent = c.ParentHashes[0]
	}
	ref := plumbing.ReferenceName(refusedPrefix + u.hash.String())
	if err := setRef(w.r.opts.Syncer, w.st, w.r.opts.Path, ref, u.hash, nil, nil, nil); err != nil {
		return Unblocked{}, fmt.Errorf("keep %s: %w", ref, err)
	}
	rb, err := w.rebuild(parent, w.chain[i+1:])
	if err != nil {
		w.ob.drop() // the objects of a line that will not be the branch
		return Unblocked{}, err
	}
	if err := w.setBranch(rb.head, w.head, nil); err != nil {
		return Unblocked{}, err
	}
	w.chain = append(slices.Clone(w.chain[:i]), rb.chain...)
	for path, seq := range w.added {
		if seq == u.seq {
			delete(w.added, path)
		}
	}
	kept := w.waiters[:0]
	for _, wt := range w.waiters {
		if wt.seq == u.seq {
			wt.ch <- outcome{hash: wt.hash, err: fmt.Errorf("%w: %w: commit %.12s was dropped by spano unblock", ErrPushFailed, ErrPushBlocked, u.hash)}
			continue
		}
		kept = append(kept, wt)
	}
	w.waiters = kept
	w.remapWaiters(rb.mapping)
	return Unblocked{Dropped: u.info, Ref: ref.String(), Head: rb.head.String(), Reapplied: len(rb.chain)}, nil
}

// find returns the index in the chain of the commit named by a full hash
// or an unambiguous prefix.
func (w *writer) find(target string) (int, error) {
	if len(target) < 7 || len(target) > 40 || strings.Trim(target, "0123456789abcdef") != "" {
		return -1, fmt.Errorf("commit %q: want a commit hash (at least 7 hex characters)", target)
	}
	found := -1
	for i, u := range w.chain {
		if strings.HasPrefix(u.hash.String(), target) {
			if found >= 0 {
				return -1, fmt.Errorf("commit %s: ambiguous among the unpushed commits", target)
			}
			found = i
		}
	}
	if found < 0 {
		return -1, fmt.Errorf("commit %s is not waiting to be pushed (%d commits are)", target, len(w.chain))
	}
	return found, nil
}
