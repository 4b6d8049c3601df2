package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
)

// fetchedRef receives the remote's branch on a fetch. The writer moves the
// remote-tracking ref only once the unpushed commits sit on top of it.
const fetchedRef = plumbing.ReferenceName("refs/spano/fetched")

// maxMoves bounds the push rounds of one push that find the remote moved,
// beyond Options.PushAttempts.
const maxMoves = 20

// maxDebounce bounds the wait of debounce, in units of push_delay.
const maxDebounce = 10

// networkTimeout bounds one fetch or push.
const networkTimeout = 10 * time.Minute

// pusher owns the network: it pushes the branch, and when the remote moved
// it fetches and has the writer re-apply the unpushed commits. It never
// forces: every update it sends names the remote's current head as the
// old value, and the remote refuses it if that is no longer true.
type pusher struct {
	r        *Repo
	st       *storage
	kickc    chan bool // true: push now, without push_delay
	stopc    chan context.Context
	unblockc chan unblockReq
	done     chan error
	// started is when the current push began, for Notice.Duration. Only
	// the pusher goroutine touches it.
	started time.Time

	// blockedNow is the refusal the push queue is blocked behind, nil
	// when it is not; Repo.Blocked reads it from any goroutine.
	blockedNow atomic.Pointer[PushBlockedError]
	// blockedAt is the branch head the refused push carried: only a
	// newer commit makes the pusher try again. Pusher goroutine only.
	blockedAt plumbing.Hash

	// lock is the clone's push lock, taken by the first push (see
	// acquire); lockless is set where the system has no such locks.
	lock     *os.File
	lockless bool
}

func newPusher(r *Repo) *pusher {
	p := &pusher{
		r:        r,
		st:       r.newStorage(),
		kickc:    make(chan bool, 1),
		stopc:    make(chan context.Context),
		unblockc: make(chan unblockReq),
		done:     make(chan error, 1),
	}
	// Taken now, so that a second process on the clone learns at once
	// that this one runs; a failure is retried by each push.
	_ = p.acquire()
	return p
}

// kick asks for a push. It never blocks: a kick already waiting covers
// this one, because a push always sends the branch as it is then.
func (p *pusher) kick(now bool) {
	select {
	case p.kickc <- now:
	default:
		if now {
			// Replace a waiting delayed kick by an immediate one.
			select {
			case <-p.kickc:
			default:
			}
			select {
			case p.kickc <- true:
			default:
			}
		}
	}
}

// stop makes a last push of what is pending, bounded by ctx, and ends the
// pusher.
func (p *pusher) stop(ctx context.Context) error {
	select {
	case p.stopc <- ctx:
	case err := <-p.done:
		return err
	}
	return <-p.done
}

func (p *pusher) run() {
	log := p.r.log.With("remote", RedactURL(p.r.opts.Remote))
	failures := 0
	var retry <-chan time.Time
	for {
		select {
		case now := <-p.kickc:
			if !now && retry != nil {
				// Backing off after a failure: a new async commit joins
				// the retry rather than hammering a remote that is down.
				// (A sync commit has a client waiting and tries at once.)
				continue
			}
			if p.stillBlocked() {
				// Refused for good, and nothing new to try: the callers
				// waiting are told so, the remote is left alone.
				continue
			}
			if !now && p.r.opts.Push == PushAsync && p.r.opts.PushDelay > 0 {
				// Debounce: a gallery of uploads becomes one push and one
				// site build.
				if ctx, stopping := p.debounce(); stopping {
					p.done <- p.finish(ctx)
					return
				}
			}
		case <-retry:
		case req := <-p.unblockc:
			p.unblock(req)
			continue
		case ctx := <-p.stopc:
			p.done <- p.finish(ctx)
			return
		}
		retry = nil
		ctx, cancel := context.WithTimeout(context.Background(), networkTimeout)
		err := p.push(ctx)
		cancel()
		var blocked *PushBlockedError
		switch {
		case err == nil:
			failures = 0
			p.unblocked()
			continue
		case errors.As(err, &blocked):
			// No retry: the remote will refuse it again. A new commit
			// gets one try; Unblock drops the commit.
			failures = 0
			p.onBlocked(blocked)
			continue
		}
		failures++
		wait := p.r.opts.Backoff(failures)
		log.Error("push failed; commits stay on the branch and will be pushed later", "err", err, "attempt", failures, "retry_in", wait.Round(time.Millisecond).String())
		p.failed(err)
		retry = time.After(wait)
	}
}

// debounce waits until no kick came for push_delay, or at most
// maxDebounce times push_delay, so a steady stream of uploads is still
// pushed now and then. It reports a stop request that arrived meanwhile.
func (p *pusher) debounce() (context.Context, bool) {
	t := time.NewTimer(p.r.opts.PushDelay)
	defer t.Stop()
	limit := time.NewTimer(maxDebounce * p.r.opts.PushDelay)
	defer limit.Stop()
	for {
		select {
		case <-limit.C:
			return nil, false
		case now := <-p.kickc:
			if now {
				return nil, false
			}
			t.Reset(p.r.opts.PushDelay)
		case <-t.C:
			return nil, false
		case ctx := <-p.stopc:
			return ctx, true
		}
	}
}

// finish makes the final push and drops the push lock.
func (p *pusher) finish(ctx context.Context) error {
	defer p.release()
	return p.final(ctx)
}

func (p *pusher) final(ctx context.Context) error {
	head, tracked, err := p.snapshot(ctx)
	if err != nil || head == tracked {
		return err
	}
	if b := p.blockedNow.Load(); b != nil && head == p.blockedAt {
		p.failedBlocked(ctx, b)
		return fmt.Errorf("final push: %w", b)
	}
	err = p.push(ctx)
	var blocked *PushBlockedError
	switch {
	case err == nil:
		p.unblocked()
		return nil
	case errors.As(err, &blocked):
		p.onBlocked(blocked)
	default:
		p.failed(err)
	}
	return fmt.Errorf("final push: %w", err)
}

// stillBlocked reports that the push queue is blocked behind a refused
// commit and no commit came since the refused push; the callers waiting
// for a push are then answered with the refusal.
func (p *pusher) stillBlocked() bool {
	b := p.blockedNow.Load()
	if b == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	head, _, err := p.snapshot(ctx)
	if err != nil || head != p.blockedAt {
		return false
	}
	p.failedBlocked(ctx, b)
	return true
}

// failedBlocked answers the callers waiting for a push with b.
func (p *pusher) failedBlocked(ctx context.Context, b *PushBlockedError) {
	_, _ = call(ctx, p.r.internal, func(w *writer) []CommitInfo { return w.pushFailed(b) })
}

func (p *pusher) failed(err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wrapped := fmt.Errorf("%w: %v", ErrPushFailed, err)
	commits, _ := call(ctx, p.r.internal, func(w *writer) []CommitInfo { return w.pushFailed(wrapped) })
	p.notify(Notice{Kind: NoticePushFailed, Commits: commits, Err: err, Duration: p.since()})
}

func (p *pusher) notify(n Notice) {
	if p.r.opts.Notify != nil {
		p.r.opts.Notify(n)
	}
}

func (p *pusher) snapshot(ctx context.Context) (head, tracked plumbing.Hash, err error) {
	s, err := call(ctx, p.r.internal, func(w *writer) [2]plumbing.Hash { return [2]plumbing.Hash{w.head, w.tracked} })
	return s[0], s[1], err
}

// since is how long the current push has taken, on the injected clock.
func (p *pusher) since() time.Duration { return p.r.opts.Now().Sub(p.started) }

// errRejected is a push the remote refused although its branch had not
// moved (a protected branch, a pre-receive hook): retrying will not help.
var errRejected = errors.New("remote rejected the push")

// push sends the branch until the remote has it, fetching and re-applying
// when the remote moved, at most PushAttempts rounds.
func (p *pusher) push(ctx context.Context) error {
	p.started = p.r.opts.Now()
	if err := p.acquire(); err != nil {
		return err
	}
	var last error
	// A round that found the remote moved made progress (the remote is
	// up, the commits now sit on its head): such rounds have a budget of
	// their own, larger, so a busy remote does not fail sync uploads.
	moves := 0
	for attempt := 1; attempt <= p.r.opts.PushAttempts; attempt++ {
		if attempt > 1 && !errors.Is(last, errMoved) {
			// Jitter after a lost race, so two spanos pushing to one
			// remote fall out of step. After a re-apply the push goes at
			// once: waiting only gives a busy remote time to move again.
			if err := sleep(ctx, time.Duration(rand.Int64N(int64(200*time.Millisecond)))*time.Duration(attempt)); err != nil {
				return err
			}
		}
		moved, err := p.attempt(ctx, plumbing.ZeroHash)
		if permanent(err) {
			// The remote refuses the push for a reason of its own (a
			// hook, a protected branch, a file too large): find the
			// commit it refuses, pushing those before it.
			moved, err = p.isolate(ctx, err)
		}
		var blocked *PushBlockedError
		switch {
		case err == nil && !moved:
			return nil
		case err == nil:
			last = errMoved
			if moves++; moves <= maxMoves {
				attempt--
			}
		case errors.As(err, &blocked), permanent(err):
			// Retrying at once will not help.
			return err
		default:
			last = err
		}
	}
	return fmt.Errorf("gave up after %d attempts: %w", p.r.opts.PushAttempts, last)
}

var errMoved = errors.New("remote branch moved")

// attempt makes one push of the branch up to commit to (zero: its head),
// an unpushed commit on its first-parent line. moved reports that the
// remote had moved and the commits were re-applied onto it: the caller
// tries again.
func (p *pusher) attempt(ctx context.Context, to plumbing.Hash) (moved bool, err error) {
	head, tracked, err := p.snapshot(ctx)
	if err != nil {
		return false, err
	}
	if to.IsZero() {
		to = head
	}
	if to == tracked {
		return false, p.pushed(ctx, to)
	}
	sess, remoteHead, caps, err := p.open(ctx)
	if err != nil {
		return false, err
	}
	defer sess.Close()

	switch {
	case remoteHead == to:
		// Pushed before, but spano stopped before it could record it.
		return false, p.pushed(ctx, to)
	case remoteHead != tracked && !remoteHead.IsZero():
		if err := p.fetchAndReapply(ctx, tracked); err != nil {
			return false, err
		}
		return true, nil
	}

	from := tracked
	if remoteHead.IsZero() {
		from = plumbing.ZeroHash // a new (or deleted) branch: send it all
	}
	st := recentStore{p.st, p.r.recent}
	hashes, err := newObjects(st, from, to)
	if err != nil {
		return false, fmt.Errorf("list objects to push: %w", err)
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(caps)
	req.Commands = []*packp.Command{{Name: p.r.branch, Old: remoteHead, New: to}}
	// The side band carries what the remote's hooks print: why it
	// refuses a push ("GH001: Large files detected").
	msgs := &remoteMessages{}
	if caps.Supports(capability.Sideband64k) {
		req.Capabilities.Set(capability.Sideband64k)
	} else if caps.Supports(capability.Sideband) {
		req.Capabilities.Set(capability.Sideband)
	}
	req.Progress = msgs
	pr, pw := io.Pipe()
	req.Packfile = pr
	encoded := make(chan error, 1)
	go func() {
		err := writePack(pw, st, hashes)
		pw.CloseWithError(err)
		encoded <- err
	}()
	status, err := sess.ReceivePack(ctx, req)
	pr.Close()
	if encErr := <-encoded; encErr != nil && err == nil {
		err = encErr
	}
	if err != nil {
		if rejected(err) || status != nil && status.Error() != nil {
			return false, &refusal{status: p.r.redact(err.Error()), remote: p.r.redact(msgs.text())}
		}
		return false, fmt.Errorf("push %s: %w", p.r.opts.Branch, err)
	}
	if status != nil {
		if err := status.Error(); err != nil {
			return false, &refusal{status: p.r.redact(err.Error()), remote: p.r.redact(msgs.text())}
		}
	}
	p.r.recent.forget(hashes)
	return false, p.pushed(ctx, to)
}

// rejected tells a refused update from a broken connection. go-git
// reports a refused update as a plain error whose text holds the
// reason: "non-fast-forward", "fetch first", a hook's "declined", a
// host's "protected branch" or "file too large".
func rejected(err error) bool {
	return raced(err) || containsAny(strings.ToLower(err.Error()), "rejected", "declined", "protected branch", "too large", "large files detected", "exceeds")
}

// raced tells a refusal because someone else updated the branch between
// our look at it and our push: the next attempt fetches and re-applies.
func raced(err error) bool {
	return containsAny(err.Error(), "non-fast-forward", "fetch first", "failed to lock", "stale info", "cannot lock ref")
}

func containsAny(s string, words ...string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

func defaultBackoff(n int) time.Duration {
	d := time.Second << min(n-1, 6)
	if d > time.Minute {
		d = time.Minute
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
