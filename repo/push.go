package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
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
	r     *Repo
	st    *storage
	kickc chan bool // true: push now, without push_delay
	stopc chan context.Context
	done  chan error
	// started is when the current push began, for Notice.Duration. Only
	// the pusher goroutine touches it.
	started time.Time
}

func newPusher(r *Repo) *pusher {
	return &pusher{
		r:     r,
		st:    r.newStorage(),
		kickc: make(chan bool, 1),
		stopc: make(chan context.Context),
		done:  make(chan error, 1),
	}
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
	log := p.r.log.With("remote", redactURL(p.r.opts.Remote))
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
			if !now && p.r.opts.Push == PushAsync && p.r.opts.PushDelay > 0 {
				// Debounce: a gallery of uploads becomes one push and one
				// site build.
				if ctx, stopping := p.debounce(); stopping {
					p.done <- p.final(ctx)
					return
				}
			}
		case <-retry:
		case ctx := <-p.stopc:
			p.done <- p.final(ctx)
			return
		}
		retry = nil
		ctx, cancel := context.WithTimeout(context.Background(), networkTimeout)
		err := p.push(ctx)
		cancel()
		if err == nil {
			failures = 0
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

func (p *pusher) final(ctx context.Context) error {
	head, tracked, err := p.snapshot(ctx)
	if err != nil || head == tracked {
		return err
	}
	if err := p.push(ctx); err != nil {
		p.failed(err)
		return fmt.Errorf("final push: %w", err)
	}
	return nil
}

func (p *pusher) failed(err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wrapped := fmt.Errorf("%w: %v", ErrPushFailed, err)
	ch := make(chan []CommitInfo, 1)
	var commits []CommitInfo
	if p.r.internal(ctx, func(w *writer) { ch <- w.pushFailed(wrapped) }) == nil {
		select {
		case commits = <-ch:
		case <-ctx.Done():
		}
	}
	p.notify(Notice{Kind: NoticePushFailed, Commits: commits, Err: err, Duration: time.Since(p.started)})
}

func (p *pusher) notify(n Notice) {
	if p.r.opts.Notify != nil {
		p.r.opts.Notify(n)
	}
}

func (p *pusher) snapshot(ctx context.Context) (head, tracked plumbing.Hash, err error) {
	type snap struct{ head, tracked plumbing.Hash }
	ch := make(chan snap, 1)
	if err := p.r.internal(ctx, func(w *writer) {
		h, t := w.snapshot()
		ch <- snap{h, t}
	}); err != nil {
		return plumbing.ZeroHash, plumbing.ZeroHash, err
	}
	select {
	case s := <-ch:
		return s.head, s.tracked, nil
	case <-ctx.Done():
		return plumbing.ZeroHash, plumbing.ZeroHash, ctx.Err()
	}
}

// errRejected is a push the remote refused although its branch had not
// moved (a protected branch, a pre-receive hook): retrying will not help.
var errRejected = errors.New("remote rejected the push")

// push sends the branch until the remote has it, fetching and re-applying
// when the remote moved, at most PushAttempts rounds.
func (p *pusher) push(ctx context.Context) error {
	p.started = time.Now()
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
		moved, err := p.attempt(ctx)
		switch {
		case err == nil && !moved:
			return nil
		case err == nil:
			last = errMoved
			if moves++; moves <= maxMoves {
				attempt--
			}
		case errors.Is(err, errRejected) && !raced(err):
			// Refused for a reason of the remote's own (a protected
			// branch, a hook): retrying at once will not help.
			return err
		default:
			last = err
		}
	}
	return fmt.Errorf("gave up after %d attempts: %w", p.r.opts.PushAttempts, last)
}

var errMoved = errors.New("remote branch moved")

// attempt makes one push. moved reports that the remote had moved and the
// commits were re-applied onto it: the caller tries again.
func (p *pusher) attempt(ctx context.Context) (moved bool, err error) {
	head, tracked, err := p.snapshot(ctx)
	if err != nil {
		return false, err
	}
	if head == tracked {
		return false, p.pushed(ctx, head)
	}
	sess, remoteHead, caps, err := p.open(ctx)
	if err != nil {
		return false, err
	}
	defer sess.Close()

	switch {
	case remoteHead == head:
		// Pushed before, but spano stopped before it could record it.
		return false, p.pushed(ctx, head)
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
	hashes, err := newObjects(p.st, from, head)
	if err != nil {
		return false, fmt.Errorf("list objects to push: %w", err)
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(caps)
	req.Commands = []*packp.Command{{Name: p.r.branch, Old: remoteHead, New: head}}
	pr, pw := io.Pipe()
	req.Packfile = pr
	encoded := make(chan error, 1)
	go func() {
		err := writePack(pw, p.st, hashes)
		pw.CloseWithError(err)
		encoded <- err
	}()
	status, err := sess.ReceivePack(ctx, req)
	pr.Close()
	if encErr := <-encoded; encErr != nil && err == nil {
		err = encErr
	}
	if err != nil {
		if rejected(err) {
			return false, fmt.Errorf("%w: %v", errRejected, err)
		}
		return false, fmt.Errorf("push %s: %w", p.r.opts.Branch, err)
	}
	if status != nil {
		if err := status.Error(); err != nil {
			return false, fmt.Errorf("%w: %v", errRejected, err)
		}
	}
	return false, p.pushed(ctx, head)
}

// rejected tells a refused update from a broken connection. go-git
// reports a refused update as a plain error whose text holds the
// reason: "non-fast-forward", "fetch first", a hook's "declined".
func rejected(err error) bool {
	return raced(err) || containsAny(err.Error(), "rejected", "declined")
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

// open starts a receive-pack session and reads the remote's branch head
// (zero when the remote has no such branch).
func (p *pusher) open(ctx context.Context) (transport.ReceivePackSession, plumbing.Hash, *capability.List, error) {
	ep, err := transport.NewEndpoint(p.r.opts.Remote)
	if err != nil {
		return nil, plumbing.ZeroHash, nil, fmt.Errorf("remote: %w", err)
	}
	c, err := client.NewClient(ep)
	if err != nil {
		return nil, plumbing.ZeroHash, nil, fmt.Errorf("remote: %w", err)
	}
	sess, err := c.NewReceivePackSession(ep, p.r.auth)
	if err != nil {
		return nil, plumbing.ZeroHash, nil, fmt.Errorf("connect: %w", err)
	}
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		sess.Close()
		return nil, plumbing.ZeroHash, nil, fmt.Errorf("connect: %w", err)
	}
	refs, err := adv.AllReferences()
	if err != nil {
		sess.Close()
		return nil, plumbing.ZeroHash, nil, fmt.Errorf("read remote refs: %w", err)
	}
	var head plumbing.Hash
	if ref, err := refs.Reference(p.r.branch); err == nil {
		head = ref.Hash()
	}
	return sess, head, adv.Capabilities, nil
}

// fetchAndReapply fetches the remote's branch and has the writer put the
// unpushed commits on top of it.
func (p *pusher) fetchAndReapply(ctx context.Context, tracked plumbing.Hash) error {
	remote := git.NewRemote(p.st, &gitconfig.RemoteConfig{Name: "origin", URLs: []string{p.r.opts.Remote}})
	err := remote.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   []gitconfig.RefSpec{gitconfig.RefSpec("+" + p.r.branch.String() + ":" + fetchedRef.String())},
		Auth:       p.r.auth,
		Tags:       git.NoTags,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("fetch %s: %w", p.r.opts.Branch, err)
	}
	fetched, err := refHash(p.st, fetchedRef)
	if err != nil || fetched.IsZero() {
		return fmt.Errorf("fetch %s: no fetched head: %v", p.r.opts.Branch, err)
	}
	foreign, err := p.foreign(tracked, fetched)
	if err != nil {
		return err
	}
	type reply struct {
		head plumbing.Hash
		err  error
	}
	ch := make(chan reply, 1)
	if err := p.r.internal(ctx, func(w *writer) {
		h, err := w.reapply(fetched)
		ch <- reply{h, err}
	}); err != nil {
		return err
	}
	var rep reply
	select {
	case rep = <-ch:
	case <-ctx.Done():
		return ctx.Err()
	}
	if rep.err != nil {
		return fmt.Errorf("re-apply onto %.12s: %w", fetched, rep.err)
	}
	p.r.log.Info("remote moved; re-applied unpushed commits", "remote_head", fetched.String(), "foreign_commits", len(foreign), "head", rep.head.String())
	if len(foreign) > 0 {
		p.notify(Notice{Kind: NoticeFetched, Commits: foreign})
	}
	return nil
}

// foreign lists the commits the fetch brought, oldest first: the
// first-parent line from fetched back to what spano knew of the remote.
func (p *pusher) foreign(tracked, fetched plumbing.Hash) ([]CommitInfo, error) {
	infos, err := line(p.st, fetched, tracked, 10000)
	if err != nil {
		return nil, fmt.Errorf("read fetched commits: %w", err)
	}
	return infos, nil
}

// pushed records the remote's new head with the writer and reports the
// commits that went out.
func (p *pusher) pushed(ctx context.Context, head plumbing.Hash) error {
	type reply struct {
		commits []CommitInfo
		err     error
	}
	ch := make(chan reply, 1)
	if err := p.r.internal(ctx, func(w *writer) {
		c, err := w.pushed(head)
		ch <- reply{c, err}
	}); err != nil {
		return err
	}
	select {
	case rep := <-ch:
		if rep.err != nil {
			return rep.err
		}
		if len(rep.commits) > 0 {
			p.r.log.Info("pushed", "commits", len(rep.commits), "head", head.String())
			p.notify(Notice{Kind: NoticePushed, Commits: rep.commits, Duration: time.Since(p.started)})
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newObjects lists the objects of the commits after from up to to: each
// commit, and the trees and blobs it changed against its first parent.
// Only changed subtrees are read, so a push costs what the commits
// changed, not what the repository holds (go-git's own push walks the
// whole history of the remote's refs to find what to leave out).
func newObjects(st *storage, from, to plumbing.Hash) ([]plumbing.Hash, error) {
	seen := map[plumbing.Hash]bool{}
	var out []plumbing.Hash
	add := func(h plumbing.Hash) {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	for h := to; !h.IsZero() && h != from; {
		c, err := object.GetCommit(st, h)
		if err != nil {
			return nil, fmt.Errorf("read commit %s: %w", h, err)
		}
		add(h)
		before, err := parentTree(st, c)
		if err != nil {
			return nil, err
		}
		if err := changedObjects(st, before, c.TreeHash, add); err != nil {
			return nil, err
		}
		if len(c.ParentHashes) == 0 {
			break
		}
		h = c.ParentHashes[0]
	}
	return out, nil
}

func changedObjects(st *storage, old, tree plumbing.Hash, add func(plumbing.Hash)) error {
	if old == tree || tree.IsZero() {
		return nil
	}
	add(tree)
	was, err := treeEntries(st, old)
	if err != nil {
		return err
	}
	now, err := treeEntries(st, tree)
	if err != nil {
		return err
	}
	for name, e := range now {
		o, ok := was[name]
		if ok && o.Hash == e.Hash {
			continue
		}
		if e.Mode == filemode.Dir {
			var prev plumbing.Hash
			if ok && o.Mode == filemode.Dir {
				prev = o.Hash
			}
			if err := changedObjects(st, prev, e.Hash, add); err != nil {
				return err
			}
			continue
		}
		if e.Mode == filemode.Submodule {
			continue
		}
		add(e.Hash)
	}
	return nil
}

// authMethod builds the transport credentials: SSH key with known_hosts,
// or HTTPS basic auth (GitHub and others take a token as the password).
func authMethod(o Options) (transport.AuthMethod, error) {
	if o.SSHKey != "" {
		user := "git"
		if ep, err := transport.NewEndpoint(o.Remote); err == nil && ep.User != "" {
			user = ep.User
		}
		keys, err := gitssh.NewPublicKeysFromFile(user, o.SSHKey, "")
		if err != nil {
			return nil, fmt.Errorf("repo.ssh_key: %w", err)
		}
		if o.SSHKnownHosts == "" {
			return nil, errors.New("repo.ssh_known_hosts: required with repo.ssh_key")
		}
		cb, err := gitssh.NewKnownHostsCallback(o.SSHKnownHosts)
		if err != nil {
			return nil, fmt.Errorf("repo.ssh_known_hosts: %w", err)
		}
		keys.HostKeyCallback = cb
		return keys, nil
	}
	if o.Username != "" || o.Password != "" {
		user := o.Username
		if user == "" {
			user = "x-access-token"
		}
		return &githttp.BasicAuth{Username: user, Password: o.Password}, nil
	}
	return nil, nil
}

// redactURL drops credentials from a remote URL for logs.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
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
