package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// ErrPushBlocked: the remote refuses a commit for a reason that retrying
// will not change (a pre-receive hook declined it, a file too large for
// the host, a protected branch). The commit and those after it stay on
// the branch, unpushed, until the owner runs spano unblock. Errors that
// match it also match ErrPushFailed: the commit was made.
var ErrPushBlocked = errors.New("push blocked")

// NoticePushBlocked reports, once, that the remote refuses a commit for
// good: Commits holds that commit, Err a *PushBlockedError saying why.
// The pusher stops retrying until a new commit arrives or the commit is
// dropped with Unblock.
const NoticePushBlocked = NoticeCommitted + 1

// A PushBlockedError is a push the remote refuses for good: it names the
// refused commit and the remote's reason, credentials removed. It matches
// ErrPushBlocked and ErrPushFailed.
type PushBlockedError struct {
	Commit string // the first commit the remote refuses
	Reason string // what the remote said, redacted
}

func (e *PushBlockedError) Error() string {
	return fmt.Sprintf("the remote refuses commit %.12s: %s; run `spano unblock` to drop it", e.Commit, e.Reason)
}

// Is makes the error match ErrPushBlocked and ErrPushFailed.
func (e *PushBlockedError) Is(target error) bool {
	return target == ErrPushBlocked || target == ErrPushFailed
}

// Blocked reports the commit the remote refuses for good and its reason,
// while the push queue is blocked behind it. It never waits, so a metric
// or health page can read it at any time.
func (r *Repo) Blocked() (commit, reason string, ok bool) {
	if r.pusher == nil {
		return "", "", false
	}
	b := r.pusher.blockedNow.Load()
	if b == nil {
		return "", "", false
	}
	return b.Commit, b.Reason, true
}

// A refusal is a push the remote answered with a refused update rather
// than a broken connection: the status line for the branch and whatever
// the remote's hooks printed meanwhile. It matches errRejected.
type refusal struct {
	status string // go-git's error for the report: "command error on refs/heads/main: pre-receive hook declined"
	remote string // the remote's own messages (a hook's stderr), redacted
}

func (e *refusal) Error() string {
	if e.remote == "" {
		return "remote rejected the push: " + e.status
	}
	return "remote rejected the push: " + e.status + ": " + e.remote
}

func (e *refusal) Is(target error) bool { return target == errRejected }

// reason is what an owner is told about a refusal: the remote's own
// messages when it sent any (GitHub's "GH001: Large files detected"),
// else the status it gave the branch.
func (e *refusal) reason() string {
	if e.remote != "" {
		return e.remote
	}
	return e.status
}

// permanent tells a refusal that will come again, whatever spano does,
// from a lost race, which a fetch and re-apply resolves.
func permanent(err error) bool {
	return errors.Is(err, errRejected) && !raced(err)
}

// maxRemoteMessages bounds what is kept of a remote's messages.
const maxRemoteMessages = 2048

// remoteMessages collects the sideband progress channel of a push, where
// a remote's hooks write why they refuse it ("remote: error: GH001 …").
// go-git writes it from the goroutine that reads the push's answer.
type remoteMessages struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (m *remoteMessages) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if room := maxRemoteMessages - m.buf.Len(); room > 0 {
		m.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// text is the messages as one line: progress meters ("Resolving deltas:
// 50%") dropped, lines joined with "; ".
func (m *remoteMessages) text() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var lines []string
	for _, l := range strings.FieldsFunc(m.buf.String(), func(r rune) bool { return r == '\n' || r == '\r' }) {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "remote:"))
		if l == "" || strings.Contains(l, "%") && !strings.Contains(strings.ToLower(l), "error") {
			continue
		}
		lines = append(lines, l)
	}
	return strings.Join(slices.Compact(lines), "; ")
}

// userinfo matches the credentials of a URL.
var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@`)

// redact removes credentials from a remote's message: a URL's user and
// password, and the configured password (a token) wherever it appears.
func (r *Repo) redact(s string) string {
	s = userinfo.ReplaceAllString(s, "${1}xxxxx@")
	if p := r.opts.Password; len(p) >= 4 {
		s = strings.ReplaceAll(s, p, "xxxxx")
	}
	return s
}

// block turns a permanent refusal of commit u into a *PushBlockedError
// and records the head the push carried, so that only a newer commit
// makes the pusher try again.
func (p *pusher) block(u unpushed, head plumbing.Hash, err error) *PushBlockedError {
	reason := err.Error()
	var ref *refusal
	if errors.As(err, &ref) {
		reason = ref.reason()
	}
	p.blockedAt = head
	return &PushBlockedError{Commit: u.hash.String(), Reason: p.r.redact(reason)}
}

// isolate finds the commit the remote refuses after it refused a push of
// the whole chain: it pushes the unpushed commits one at a time, oldest
// first along the first-parent line, so that those before the refused
// one reach the remote, and returns a *PushBlockedError naming the first
// refused commit. moved reports that the remote moved meanwhile and the
// commits were re-applied: the caller pushes again.
func (p *pusher) isolate(ctx context.Context, whole error) (moved bool, err error) {
	chain, err := call(ctx, p.r.internal, func(w *writer) []unpushed { return slices.Clone(w.chain) })
	if err != nil {
		return false, err
	}
	switch len(chain) {
	case 0:
		return false, whole
	case 1:
		return false, p.block(chain[0], chain[0].hash, whole)
	}
	head := chain[len(chain)-1].hash
	p.r.log.Info("remote refused the push; pushing its commits one at a time to find the one it refuses", "commits", len(chain))
	for _, u := range chain {
		moved, err := p.attempt(ctx, u.hash)
		switch {
		case moved:
			return true, nil
		case err == nil:
		case permanent(err):
			return false, p.block(u, head, err)
		default:
			return false, err
		}
	}
	// Each was accepted alone: the remote changed its mind.
	return false, nil
}

// onBlocked handles a push the remote refuses for good: reported loudly
// the first time this commit is refused for this reason, quietly after;
// the callers waiting for a push are answered with it; no retry is
// scheduled.
func (p *pusher) onBlocked(b *PushBlockedError) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	prev := p.blockedNow.Swap(b)
	loud := prev == nil || prev.Commit != b.Commit || prev.Reason != b.Reason
	commits, _ := call(ctx, p.r.internal, func(w *writer) []CommitInfo { return w.pushFailed(b) })
	var behind []CommitInfo // commits waiting behind the refused one, failed for the first time
	for _, c := range commits {
		if c.Hash != b.Commit {
			behind = append(behind, c)
		}
	}
	if loud {
		p.r.log.Error("the remote refuses a commit and will keep refusing it: the push queue is blocked; run `spano unblock` to drop the commit and push the others",
			"remote", RedactURL(p.r.opts.Remote), "commit", b.Commit, "reason", b.Reason, "unpushed", p.r.Pending())
		refused := CommitInfo{Hash: b.Commit}
		if info, err := p.info(ctx, b.Commit); err == nil {
			refused = info
		}
		p.notify(Notice{Kind: NoticePushBlocked, Commits: []CommitInfo{refused}, Err: b, Duration: p.since()})
	} else {
		p.r.log.Debug("the remote still refuses the commit; not retrying until a new commit or spano unblock", "commit", b.Commit)
	}
	if len(behind) > 0 {
		p.notify(Notice{Kind: NoticePushFailed, Commits: behind, Err: b, Duration: p.since()})
	}
}

// info describes an unpushed commit.
func (p *pusher) info(ctx context.Context, hash string) (CommitInfo, error) {
	info, err := call(ctx, p.r.internal, func(w *writer) *CommitInfo {
		for _, u := range w.chain {
			if u.hash.String() == hash {
				return &u.info
			}
		}
		return nil
	})
	if err != nil || info == nil {
		return CommitInfo{}, fmt.Errorf("commit %.12s is not waiting to be pushed", hash)
	}
	return *info, nil
}

// unblocked clears the blocked state after a push went through.
func (p *pusher) unblocked() {
	if b := p.blockedNow.Swap(nil); b != nil {
		p.r.log.Info("the remote accepts pushes again", "refused_before", b.Commit)
	}
	p.blockedAt = plumbing.ZeroHash
}
