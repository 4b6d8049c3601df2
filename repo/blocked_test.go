package repo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"spano/internal/gittest"
	"spano/internal/safebuf"
	"strings"
	"sync"
	"testing"
	"time"
)

// notices collects a repository's notices.
type notices struct {
	mu   sync.Mutex
	list []Notice
}

func (n *notices) add(x Notice) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.list = append(n.list, x)
}

func (n *notices) of(kind NoticeKind) []Notice {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []Notice
	for _, x := range n.list {
		if x.Kind == kind {
			out = append(out, x)
		}
	}
	return out
}

// waitFor polls cond every 20 ms for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// queue makes commits of the given sizes in async mode without pushing
// them, and closes the repository: the unpushed chain a restart finds.
func queue(t *testing.T, opts Options, sizes ...int) (hashes, paths []string) {
	t.Helper()
	opts.Push, opts.PushDelay = PushAsync, time.Hour
	r, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range sizes {
		file, p := media(t, size)
		res, err := r.Commit(context.Background(), upload(file, p))
		if err != nil {
			t.Fatal(err)
		}
		hashes, paths = append(hashes, res.Commit), append(paths, p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no final push
	r.Close(ctx)
	return hashes, paths
}

func onRemote(remote, path string) bool {
	_, err := gittest.Run(remote, "cat-file", "-e", "main:"+path)
	return err == nil
}

// TestRefusedCommitBlocksOnce: of three unpushed commits, the remote
// refuses the second (a blob over its size limit). The first is pushed,
// the second reported once (one Error line, one notice, no retry loop
// however short the backoff), the third waits; a sync upload meanwhile
// tries once and gets ErrPushBlocked; Unblock drops the second, keeps it
// under refs/spano/refused/, and the rest is pushed without a force.
func TestRefusedCommitBlocksOnce(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	runs := gittest.RefuseBlobsOver(t, remote, 50_000)
	path := filepath.Join(t.TempDir(), "clone.git")
	hashes, paths := queue(t, Options{Path: path, Remote: remote}, 1000, 80_000, 2000)
	if n := runs(); n != 0 {
		t.Fatalf("hook ran %d times before the restart", n)
	}

	logs := &safebuf.Buffer{}
	var seen notices
	r := open(t, Options{Path: path, Remote: remote, Push: PushSync, Backoff: func(int) time.Duration { return 10 * time.Millisecond },
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Notify: seen.add})
	waitFor(t, "the blocked notice", func() bool { return len(seen.of(NoticePushBlocked)) > 0 })
	// A retry loop with a 10 ms backoff would push dozens of times here.
	time.Sleep(1500 * time.Millisecond)

	if got, want := runs(), 3; got != want { // the whole chain, then commit 1 alone, then commit 2
		t.Errorf("remote saw %d pushes, want %d (no retry loop)", got, want)
	}
	if got := gittest.Git(t, remote, "rev-parse", "main"); got != hashes[0] {
		t.Errorf("remote main = %s, want the first commit %s", got, hashes[0])
	}
	if onRemote(remote, paths[1]) || onRemote(remote, paths[2]) {
		t.Error("remote has the refused commit or the one behind it")
	}
	blocked := seen.of(NoticePushBlocked)
	if len(blocked) != 1 || len(blocked[0].Commits) != 1 || blocked[0].Commits[0].Hash != hashes[1] {
		t.Fatalf("blocked notices = %+v, want one for %s", blocked, hashes[1])
	}
	if !errors.Is(blocked[0].Err, ErrPushBlocked) || !strings.Contains(blocked[0].Err.Error(), "GH001: Large files detected") {
		t.Errorf("notice Err = %v", blocked[0].Err)
	}
	if pushed := seen.of(NoticePushed); len(pushed) != 1 || pushed[0].Commits[0].Hash != hashes[0] {
		t.Errorf("pushed notices = %+v, want one for the first commit", pushed)
	}
	commit, reason, ok := r.Blocked()
	if !ok || commit != hashes[1] || !strings.Contains(reason, "GH001") {
		t.Errorf("Blocked() = %q, %q, %v", commit, reason, ok)
	}
	if got := r.Pending(); got != 2 {
		t.Errorf("Pending() = %d, want 2", got)
	}

	// A new sync upload: one try (two pushes: the chain, then the refused
	// commit alone), then ErrPushBlocked saying why and what to do.
	file, p4 := media(t, 1500)
	res, err := r.Commit(context.Background(), upload(file, p4))
	var be *PushBlockedError
	if !errors.As(err, &be) || !errors.Is(err, ErrPushFailed) || be.Commit != hashes[1] || !strings.Contains(err.Error(), "spano unblock") {
		t.Fatalf("sync commit while blocked: %v", err)
	}
	if res.Commit == "" || res.Pushed {
		t.Errorf("Result = %+v", res)
	}
	if got, want := runs(), 5; got != want {
		t.Errorf("remote saw %d pushes after a new commit, want %d", got, want)
	}
	// The client retries the same bytes: nothing new to try, no push.
	if _, err := r.Commit(context.Background(), upload(file, p4)); !errors.Is(err, ErrPushBlocked) {
		t.Errorf("retried upload while blocked: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if got, want := runs(), 5; got != want {
		t.Errorf("remote saw %d pushes after a retried upload, want %d", got, want)
	}
	if n := len(seen.of(NoticePushBlocked)); n != 1 {
		t.Errorf("%d blocked notices, want 1", n)
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Errorf("%d Error log lines, want 1:\n%s", n, logs.String())
	}

	u, err := r.Unblock(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if u.Dropped.Hash != hashes[1] || u.Reapplied != 2 || u.Ref != "refs/spano/refused/"+hashes[1] {
		t.Errorf("Unblock = %+v", u)
	}
	waitFor(t, "the push after unblock", func() bool { return r.Pending() == 0 })
	for _, p := range []string{paths[0], paths[2], p4} {
		if !onRemote(remote, p) {
			t.Errorf("remote lacks %s after unblock", p)
		}
	}
	if onRemote(remote, paths[1]) {
		t.Error("remote has the dropped commit's file")
	}
	if _, err := gittest.Run(remote, "merge-base", "--is-ancestor", hashes[0], "main"); err != nil {
		t.Error("the first commit is no longer in the remote's history: forced?")
	}
	if got := gittest.Git(t, path, "rev-parse", u.Ref); got != hashes[1] {
		t.Errorf("%s = %s, want %s", u.Ref, got, hashes[1])
	}
	gittest.Git(t, path, "cat-file", "-e", u.Ref+":"+paths[1])
	if _, _, ok := r.Blocked(); ok {
		t.Error("still blocked after unblock")
	}
	gittest.Fsck(t, remote)
}

// TestRaceIsNotBlocked: a push refused because someone else pushed first
// is a race, resolved by a fetch and re-apply, never a blocked queue.
func TestRaceIsNotBlocked(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	gittest.RefuseBlobsOver(t, remote, 50_000)
	var seen notices
	r := open(t, Options{Remote: remote, Push: PushSync, Notify: seen.add})
	pushForeign(t, remote, "post.md")
	file, p := media(t, 1000)
	res, err := r.Commit(context.Background(), upload(file, p))
	if err != nil || !res.Pushed {
		t.Fatalf("commit after a foreign push: %+v, %v", res, err)
	}
	if !onRemote(remote, p) || !onRemote(remote, "post.md") {
		t.Error("remote lacks the upload or the foreign commit")
	}
	if n := len(seen.of(NoticePushBlocked)); n != 0 {
		t.Errorf("%d blocked notices for a race", n)
	}
	if _, _, ok := r.Blocked(); ok {
		t.Error("Blocked() after a race")
	}
}

// TestProtectedBranchBlocks: a remote that refuses every update (a
// protected branch) blocks at the first commit, reported once, and the
// remote is never moved.
func TestProtectedBranchBlocks(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	hook := "#!/bin/sh\necho 'error: GH006: Protected branch update failed for refs/heads/main.' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(remote, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	before := gittest.Git(t, remote, "rev-parse", "main")
	var seen notices
	r := open(t, Options{Remote: remote, Push: PushSync, Password: "s3cret-token", Notify: seen.add})
	for i := range 3 {
		file, p := media(t, 1000+i)
		_, err := r.Commit(context.Background(), upload(file, p))
		if !errors.Is(err, ErrPushBlocked) || !strings.Contains(err.Error(), "GH006") {
			t.Fatalf("commit %d: %v", i, err)
		}
	}
	if got := gittest.Git(t, remote, "rev-parse", "main"); got != before {
		t.Error("remote moved")
	}
	if n := len(seen.of(NoticePushBlocked)); n != 1 {
		t.Errorf("%d blocked notices, want 1", n)
	}
	if n := len(seen.of(NoticePushFailed)); n != 2 {
		t.Errorf("%d push-failed notices (the commits behind the refused one), want 2", n)
	}
}

// TestUnblockErrors: a commit that is not waiting, a bad hash, and a
// queue that is not blocked.
func TestUnblockErrors(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	path := filepath.Join(t.TempDir(), "clone.git")
	hashes, _ := queue(t, Options{Path: path, Remote: remote}, 1000, 1000)
	// The remote is away: the queue stays queued.
	if err := os.Rename(remote, remote+".away"); err != nil {
		t.Fatal(err)
	}
	r := open(t, Options{Path: path, Remote: remote, Push: PushAsync})
	ctx := context.Background()
	for _, c := range []string{"xyz", "abc", strings.Repeat("0", 40)} {
		if _, err := r.Unblock(ctx, c); err == nil {
			t.Errorf("Unblock(%q) succeeded", c)
		}
	}
	// Named by a prefix, the first commit goes; the second is re-applied
	// onto the remote's head and pushed.
	u, err := r.Unblock(ctx, hashes[0][:10])
	if err != nil {
		t.Fatal(err)
	}
	if u.Dropped.Hash != hashes[0] || u.Reapplied != 1 {
		t.Errorf("Unblock = %+v", u)
	}
	if err := os.Rename(remote+".away", remote); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the push after unblock", func() bool { return r.Pending() == 0 })
	if got := commitCount(t, remote, "main"); got != 2 {
		t.Errorf("remote has %d commits, want 2 (the start and the second upload)", got)
	}
	if _, err := r.Unblock(ctx, ""); !errors.Is(err, ErrNothingBlocked) {
		t.Errorf("Unblock with nothing refused: %v", err)
	}
	ro := open(t, Options{Path: filepath.Join(t.TempDir(), "other.git")})
	if _, err := ro.Unblock(ctx, ""); err == nil {
		t.Error("Unblock without a remote succeeded")
	}
}

func TestRefusalKinds(t *testing.T) {
	for _, tt := range []struct {
		name          string
		err           error
		wantPermanent bool
	}{
		{"hook", &refusal{status: "command error on refs/heads/main: pre-receive hook declined"}, true},
		{"protected", &refusal{status: "command error on refs/heads/main: protected branch hook declined"}, true},
		{"non-fast-forward", &refusal{status: "command error on refs/heads/main: non-fast-forward"}, false},
		{"fetch first", &refusal{status: "command error on refs/heads/main: fetch first"}, false},
		{"lock", &refusal{status: "command error on refs/heads/main: failed to lock"}, false},
		{"network", errors.New("connect: dial tcp: connection refused"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := permanent(tt.err); got != tt.wantPermanent {
				t.Errorf("permanent(%v) = %v, want %v", tt.err, got, tt.wantPermanent)
			}
		})
	}
	for _, s := range []string{"unpack ok; file too large", "GH001: Large files detected", "this exceeds GitHub's file size limit"} {
		if !rejected(errors.New(s)) || raced(errors.New(s)) {
			t.Errorf("%q not a refusal for good", s)
		}
	}
}

func TestRemoteMessagesRedacted(t *testing.T) {
	r := &Repo{opts: Options{Password: "ghp_secret123"}}
	var m remoteMessages
	fmt.Fprint(&m, "remote: Resolving deltas: 100% (3/3)\rremote: error: GH001: Large files detected.\n")
	fmt.Fprint(&m, "remote: see https://user:ghp_secret123@github.com/x/y and token ghp_secret123\n")
	got := r.redact(m.text())
	if strings.Contains(got, "ghp_secret123") || strings.Contains(got, "user:") {
		t.Errorf("credentials left in %q", got)
	}
	if !strings.HasPrefix(got, "error: GH001: Large files detected.; see https://xxxxx@github.com/x/y") {
		t.Errorf("messages = %q", got)
	}
	if strings.Contains(got, "Resolving") {
		t.Errorf("progress meter kept: %q", got)
	}
}

// TestPushLock: one process at a time pushes from a clone. A second Repo
// on it (spano unblock while spano serve runs) neither pushes nor
// unblocks, saying why, until the first is closed.
//
// Both run in this one process, so no gc runs: a git started by one of
// them copies every descriptor of the process, the other's lock too,
// until its exec closes them, and the lock outlived first.Close by that
// much in 1 run of 40.
func TestPushLock(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	path := filepath.Join(t.TempDir(), "clone.git")
	first, err := Open(context.Background(), Options{Path: path, Remote: remote, Push: PushAsync, Backoff: fastBackoff, GCEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	second := open(t, Options{Path: path, Remote: remote, Push: PushAsync, GCEvery: -1})
	_, err = second.Unblock(context.Background(), "")
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), fmt.Sprint("process ", os.Getpid())) {
		t.Errorf("Unblock beside another pusher: %v", err)
	}
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Unblock(context.Background(), ""); !errors.Is(err, ErrNothingBlocked) {
		t.Errorf("Unblock once the other closed: %v", err)
	}
}
