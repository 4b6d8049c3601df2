package repo

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"spano/internal/gittest"
	"strings"
	"sync"
	"testing"
	"time"
)

// pushForeign makes a commit in a separate clone and pushes it, as
// another writer would.
func pushForeign(t testing.TB, remote, name string) string {
	t.Helper()
	work := filepath.Join(t.TempDir(), "other")
	gittest.Git(t, filepath.Dir(work), "clone", "-q", "-b", "main", remote, work)
	if err := os.WriteFile(filepath.Join(work, name), []byte("written by someone else\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, work, "add", name)
	gittest.Git(t, work, "commit", "-q", "-m", "Foreign "+name)
	gittest.Git(t, work, "push", "-q", "origin", "HEAD:main")
	return gittest.Git(t, work, "rev-parse", "HEAD")
}

func fastBackoff(int) time.Duration { return 20 * time.Millisecond }

func open(t testing.TB, opts Options) *Repo {
	t.Helper()
	if opts.Path == "" {
		opts.Path = filepath.Join(t.TempDir(), "clone.git")
	}
	if opts.Backoff == nil {
		opts.Backoff = fastBackoff
	}
	r, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Close(ctx)
	})
	return r
}

// media writes a file of random bytes and returns its path and the
// content-addressed repository path spano would give it.
func media(t testing.TB, size int) (file, path string) {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:])
	file = filepath.Join(t.TempDir(), h+".jpg")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return file, fmt.Sprintf("media/%s/%s/%s.jpg", h[:2], h[2:4], h)
}

func upload(file, path string) Change {
	h := strings.TrimSuffix(filepath.Base(path), ".jpg")
	return Change{
		Add: []Blob{{Path: path, File: file}},
		Message: Message{
			Subject:  fmt.Sprintf("Add %s.jpg (photo.jpg)", h[:12]),
			Trailers: []Trailer{{"Media-SHA256", h}, {"Media-Type", "image/jpeg"}},
		},
	}
}

func commitCount(t testing.TB, repo, ref string) int {
	t.Helper()
	var n int
	fmt.Sscan(gittest.Git(t, repo, "rev-list", "--count", ref), &n)
	return n
}

func TestCommitWithoutRemote(t *testing.T) {
	r := open(t, Options{})
	file, path := media(t, 200_000)
	res, err := r.Commit(context.Background(), upload(file, path))
	if err != nil {
		t.Fatal(err)
	}
	if res.Duplicate || res.Pushed || len(res.Commit) != 40 {
		t.Fatalf("Result = %+v", res)
	}
	repo := r.opts.Path
	if got, want := gittest.Git(t, repo, "ls-tree", "-r", "--name-only", "main"), path; got != want {
		t.Errorf("ls-tree = %q, want %q", got, want)
	}
	if got, want := gittest.Git(t, repo, "rev-parse", "main"), res.Commit; got != want {
		t.Errorf("main = %s, want %s", got, want)
	}
	msg := gittest.Git(t, repo, "log", "-1", "--format=%B", "main")
	if !strings.HasPrefix(msg, "Add ") || !strings.Contains(msg, "\n\nMedia-SHA256: ") {
		t.Errorf("message = %q", msg)
	}
	if got := gittest.Git(t, repo, "log", "-1", "--format=%(trailers:key=Media-Type,valueonly)", "main"); got != "image/jpeg" {
		t.Errorf("git reads Media-Type trailer as %q", got)
	}
	want, _ := os.ReadFile(file)
	out, err := exec.Command("git", "-C", repo, "cat-file", "blob", "main:"+path).Output()
	if err != nil || !bytes.Equal(out, want) {
		t.Errorf("stored bytes differ from the upload (err %v)", err)
	}
	gittest.Fsck(t, repo)

	// The same bytes again: same path, no commit.
	res2, err := r.Commit(context.Background(), upload(file, path))
	if err != nil {
		t.Fatal(err)
	}
	if !res2.Duplicate || res2.Commit != res.Commit {
		t.Errorf("second upload = %+v, want duplicate of %s", res2, res.Commit)
	}
	if n := commitCount(t, repo, "main"); n != 1 {
		t.Errorf("%d commits, want 1", n)
	}
}

// TestTreeEdits checks the plumbing tree edits against git's own view of
// the tree: many files in shared and separate folders, a delete that
// empties folders, files beside folders whose names sort differently as
// trees ("a" vs "a.b" vs "a-b").
func TestTreeEdits(t *testing.T) {
	r := open(t, Options{})
	ctx := context.Background()
	want := map[string]bool{}
	add := func(path string) {
		t.Helper()
		file := filepath.Join(t.TempDir(), "f")
		os.WriteFile(file, []byte(path), 0o600)
		if _, err := r.Commit(ctx, Change{Add: []Blob{{Path: path, File: file}}, Message: Message{Subject: "add " + path}}); err != nil {
			t.Fatalf("add %s: %v", path, err)
		}
		want[path] = true
	}
	for _, p := range []string{"media/ab/cd/x.jpg", "media/ab/cd/y.jpg", "media/ab/ce/z.jpg", "media/a.b", "media/a-b/q", "media/a/q", "media/a0", "static/media/00/00/w.png", "top.txt"} {
		add(p)
	}
	del := func(path string) {
		t.Helper()
		if _, err := r.Commit(ctx, Change{Delete: []string{path}, Message: Message{Subject: "delete " + path}}); err != nil {
			t.Fatalf("delete %s: %v", path, err)
		}
		delete(want, path)
	}
	del("media/ab/ce/z.jpg")
	del("static/media/00/00/w.png")

	var wantList []string
	for p := range want {
		wantList = append(wantList, p)
	}
	sort.Strings(wantList)
	got := strings.Split(gittest.Git(t, r.opts.Path, "ls-tree", "-r", "--name-only", "main"), "\n")
	if strings.Join(got, "\n") != strings.Join(wantList, "\n") {
		t.Errorf("ls-tree -r:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantList, "\n"))
	}
	if out := gittest.Git(t, r.opts.Path, "ls-tree", "main", "static"); out != "" {
		t.Errorf("emptied folder still there: %q", out)
	}
	gittest.Fsck(t, r.opts.Path)

	// Errors: deleting a missing path, a path through a file, bad paths.
	for _, tc := range []struct {
		name string
		c    Change
		want error
	}{
		{"delete missing", Change{Delete: []string{"media/nope.jpg"}}, ErrNotFound},
		{"add below a file", Change{Add: []Blob{{Path: "top.txt/x", File: "/dev/null"}}}, ErrConflict},
		{"delete a folder", Change{Delete: []string{"media/ab"}}, ErrConflict},
		{"dotdot", Change{Add: []Blob{{Path: "media/../x", File: "/dev/null"}}}, ErrBadPath},
		{"absolute", Change{Add: []Blob{{Path: "/etc/x", File: "/dev/null"}}}, ErrBadPath},
		{"dot git", Change{Add: []Blob{{Path: "media/.git/config", File: "/dev/null"}}}, ErrBadPath},
		{"empty element", Change{Add: []Blob{{Path: "media//x", File: "/dev/null"}}}, ErrBadPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := gittest.Git(t, r.opts.Path, "rev-parse", "main")
			_, err := r.Commit(ctx, tc.c)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if after := gittest.Git(t, r.opts.Path, "rev-parse", "main"); after != before {
				t.Errorf("branch moved on error")
			}
		})
	}
}

func TestOverwriteRefused(t *testing.T) {
	r := open(t, Options{})
	ctx := context.Background()
	a := filepath.Join(t.TempDir(), "a")
	b := filepath.Join(t.TempDir(), "b")
	os.WriteFile(a, []byte("one"), 0o600)
	os.WriteFile(b, []byte("two"), 0o600)
	if _, err := r.Commit(ctx, Change{Add: []Blob{{Path: "media/x.jpg", File: a}, {Path: "media/x-320w.jpg", File: a}}}); err != nil {
		t.Fatal(err)
	}
	// A thumbnail path taken by other bytes is never overwritten.
	_, err := r.Commit(ctx, Change{Add: []Blob{{Path: "media/y.jpg", File: b}, {Path: "media/x-320w.jpg", File: b}}})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	out, _ := exec.Command("git", "-C", r.opts.Path, "cat-file", "blob", "main:media/x-320w.jpg").Output()
	if string(out) != "one" {
		t.Errorf("file was overwritten: %q", out)
	}
}

func TestSyncPush(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	var mu sync.Mutex
	var notices []Notice
	r := open(t, Options{Remote: remote, Push: PushSync, Notify: func(n Notice) {
		mu.Lock()
		notices = append(notices, n)
		mu.Unlock()
	}})
	file, path := media(t, 200_000)
	res, err := r.Commit(context.Background(), upload(file, path))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Pushed {
		t.Errorf("Pushed = false")
	}
	if got := gittest.Git(t, remote, "rev-parse", "main"); got != res.Commit {
		t.Errorf("remote main = %s, want %s", got, res.Commit)
	}
	if got := gittest.Git(t, r.opts.Path, "rev-parse", "origin/main"); got != res.Commit {
		t.Errorf("origin/main = %s, want %s", got, res.Commit)
	}
	if got := gittest.Git(t, remote, "log", "-1", "--format=%an <%ae>", "main"); got != "spano <spano@localhost>" {
		t.Errorf("author = %q", got)
	}
	if n := commitCount(t, remote, "main"); n != 2 {
		t.Errorf("remote has %d commits, want 2", n)
	}
	gittest.Fsck(t, remote)
	mu.Lock()
	defer mu.Unlock()
	if len(notices) != 2 || notices[0].Kind != NoticeCommitted || notices[1].Kind != NoticePushed ||
		len(notices[1].Commits) != 1 || notices[1].Commits[0].Added[0] != path || notices[1].Commits[0].Hash != res.Commit {
		t.Errorf("notices = %+v", notices)
	}
	if len(notices) == 2 && notices[1].Duration <= 0 {
		t.Errorf("pushed notice Duration = %v, want > 0", notices[1].Duration)
	}
	if got := r.Pending(); got != 0 {
		t.Errorf("Pending() = %d after the push, want 0", got)
	}
}

// TestConcurrentIdentical: 16 uploads of the same bytes at once make one
// commit.
func TestConcurrentIdentical(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	r := open(t, Options{Remote: remote, Push: PushSync})
	file, path := media(t, 100_000)
	var wg sync.WaitGroup
	results := make([]Result, 16)
	errs := make([]error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = r.Commit(context.Background(), upload(file, path))
		}()
	}
	wg.Wait()
	dups := 0
	for i := range 16 {
		if errs[i] != nil {
			t.Fatalf("upload %d: %v", i, errs[i])
		}
		if !results[i].Pushed {
			t.Errorf("upload %d not pushed: %+v", i, results[i])
		}
		if results[i].Duplicate {
			dups++
		}
	}
	if dups != 15 {
		t.Errorf("%d duplicates, want 15", dups)
	}
	if n := commitCount(t, remote, "main"); n != 2 {
		t.Errorf("remote has %d commits, want 2", n)
	}
}

// TestConcurrentDistinct: 32 goroutines × 4 files all reach the remote,
// in fewer pushes than commits.
func TestConcurrentDistinct(t *testing.T) {
	for _, mode := range []PushMode{PushSync, PushAsync} {
		t.Run(string(mode), func(t *testing.T) {
			remote := gittest.NewRemote(t, nil)
			var mu sync.Mutex
			pushes := 0
			r := open(t, Options{Remote: remote, Push: mode, Notify: func(n Notice) {
				if n.Kind == NoticePushed {
					mu.Lock()
					pushes++
					mu.Unlock()
				}
			}})
			var wg sync.WaitGroup
			var paths sync.Map
			for g := range 32 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 4 {
						file, path := media(t, 20_000+g)
						if _, err := r.Commit(context.Background(), upload(file, path)); err != nil {
							t.Errorf("commit: %v", err)
							return
						}
						paths.Store(path, true)
					}
				}()
			}
			wg.Wait()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := r.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
			onRemote := map[string]bool{}
			for _, p := range strings.Split(gittest.Git(t, remote, "ls-tree", "-r", "--name-only", "main"), "\n") {
				onRemote[p] = true
			}
			n := 0
			paths.Range(func(k, _ any) bool {
				n++
				if !onRemote[k.(string)] {
					t.Errorf("%s missing on the remote", k)
				}
				return true
			})
			if n != 128 {
				t.Errorf("%d uploads, want 128", n)
			}
			if got := commitCount(t, remote, "main"); got != 129 {
				t.Errorf("remote has %d commits, want 129", got)
			}
			if got := gittest.Git(t, remote, "rev-list", "--merges", "--count", "main"); got != "0" {
				t.Errorf("%s merge commits, want a linear history", got)
			}
			gittest.Fsck(t, remote)
			mu.Lock()
			t.Logf("%d pushes for 128 commits", pushes)
			if mode == PushSync && pushes >= 128 {
				t.Errorf("%d pushes: commits made during a push should go out together", pushes)
			}
			mu.Unlock()
		})
	}
}

// TestRemoteMoved: a commit pushed by someone else between uploads is
// kept, and spano's commit is re-applied on top of it, never forced.
func TestRemoteMoved(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	var mu sync.Mutex
	var fetched []CommitInfo
	r := open(t, Options{Remote: remote, Push: PushSync, Notify: func(n Notice) {
		if n.Kind == NoticeFetched {
			mu.Lock()
			fetched = append(fetched, n.Commits...)
			mu.Unlock()
		}
	}})
	ctx := context.Background()
	f1, p1 := media(t, 1000)
	if _, err := r.Commit(ctx, upload(f1, p1)); err != nil {
		t.Fatal(err)
	}
	foreign := pushForeign(t, remote, "about.md")
	f2, p2 := media(t, 1000)
	res, err := r.Commit(ctx, upload(f2, p2))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Pushed {
		t.Fatalf("not pushed: %+v", res)
	}
	if got := gittest.Git(t, remote, "rev-parse", "main"); got != res.Commit {
		t.Errorf("remote main = %s, Result.Commit = %s (must name the re-applied commit)", got, res.Commit)
	}
	if got := gittest.Git(t, remote, "rev-parse", "main~1"); got != foreign {
		t.Errorf("main~1 = %s, want the foreign commit %s", got, foreign)
	}
	subjects := gittest.Git(t, remote, "log", "--format=%s", "main")
	if !strings.Contains(subjects, "Foreign about.md") || strings.Count(subjects, "Add ") != 2 {
		t.Errorf("history:\n%s", subjects)
	}
	if got := gittest.Git(t, remote, "log", "-1", "--format=%an|%B", "main"); !strings.HasPrefix(got, "spano|Add ") || !strings.Contains(got, "Media-SHA256: ") {
		t.Errorf("re-applied commit lost its author or message: %q", got)
	}
	for _, p := range []string{p1, p2, "about.md", "index.md"} {
		gittest.Git(t, remote, "cat-file", "-e", "main:"+p)
	}
	if got := gittest.Git(t, remote, "rev-list", "--merges", "--count", "main"); got != "0" {
		t.Errorf("history not linear")
	}
	gittest.Fsck(t, remote)
	gittest.Fsck(t, r.opts.Path)
	mu.Lock()
	if len(fetched) != 1 || fetched[0].Hash != foreign || fetched[0].Added[0] != "about.md" {
		t.Errorf("fetched notices = %+v", fetched)
	}
	mu.Unlock()
	// The re-applied file is served from the new head.
	if _, err := r.Stat(ctx, "about.md"); err != nil {
		t.Errorf("Stat of a fetched file: %v", err)
	}
}

// TestSyncPushFails: with the remote gone, a sync commit fails with
// ErrPushFailed but stays; after recovery the client's retry succeeds and
// no commit is duplicated.
func TestSyncPushFails(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	r := open(t, Options{Remote: remote, Push: PushSync, PushAttempts: 2, Backoff: func(int) time.Duration { return time.Hour }})
	ctx := context.Background()
	gone := remote + ".away"
	if err := os.Rename(remote, gone); err != nil {
		t.Fatal(err)
	}
	file, path := media(t, 5000)
	res, err := r.Commit(ctx, upload(file, path))
	if !errors.Is(err, ErrPushFailed) {
		t.Fatalf("err = %v, want ErrPushFailed", err)
	}
	if res.Commit == "" || res.Pushed {
		t.Errorf("Result = %+v", res)
	}
	if got, want := r.Pending(), 1; got != want {
		t.Errorf("Pending() = %d after a failed push, want %d", got, want)
	}
	if err := os.Rename(gone, remote); err != nil {
		t.Fatal(err)
	}
	// The client retries the same bytes: a duplicate of an unpushed commit
	// triggers the push (the backoff here is an hour) and waits for it.
	retryCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res2, err := r.Commit(retryCtx, upload(file, path))
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if !res2.Duplicate || !res2.Pushed || res2.Commit != res.Commit {
		t.Errorf("retry = %+v, want a pushed duplicate of %s", res2, res.Commit)
	}
	if got := r.Pending(); got != 0 {
		t.Errorf("Pending() = %d after the retry pushed, want 0", got)
	}
	if n := commitCount(t, remote, "main"); n != 2 {
		t.Errorf("remote has %d commits, want 2", n)
	}
}

// TestAsyncQueueSurvivesRestart: commits made in async mode and not
// pushed before the process stopped are pushed at the next start.
func TestAsyncQueueSurvivesRestart(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	path := filepath.Join(t.TempDir(), "clone.git")
	opts := Options{Path: path, Remote: remote, Push: PushAsync, PushDelay: time.Hour, Backoff: fastBackoff}
	r, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for range 3 {
		file, p := media(t, 3000)
		res, err := r.Commit(context.Background(), upload(file, p))
		if err != nil || res.Pushed {
			t.Fatalf("async commit = %+v, %v", res, err)
		}
		want = append(want, p)
	}
	if got, want := r.Pending(), 3; got != want {
		t.Errorf("Pending() = %d, want %d", got, want)
	}
	// Stop without giving the final push any time.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.Close(ctx)
	if n := commitCount(t, remote, "main"); n != 1 {
		t.Fatalf("remote has %d commits before restart, want 1", n)
	}

	pushed := make(chan Notice, 1)
	opts.PushDelay = 0
	opts.Notify = func(n Notice) {
		if n.Kind == NoticePushed {
			pushed <- n
		}
	}
	r2 := open(t, opts)
	select {
	case n := <-pushed:
		if len(n.Commits) != 3 {
			t.Errorf("pushed %d commits, want 3", len(n.Commits))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("queue not pushed after restart")
	}
	for _, p := range want {
		gittest.Git(t, remote, "cat-file", "-e", "main:"+p)
	}
	_ = r2
}

func TestAsyncPushDelayBatches(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	pushed := make(chan Notice, 10)
	r := open(t, Options{Remote: remote, Push: PushAsync, PushDelay: 300 * time.Millisecond, Notify: func(n Notice) {
		if n.Kind == NoticePushed {
			pushed <- n
		}
	}})
	for range 5 {
		file, p := media(t, 2000)
		if _, err := r.Commit(context.Background(), upload(file, p)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case n := <-pushed:
		if len(n.Commits) != 5 {
			t.Errorf("first push carried %d commits, want all 5 (a gallery is one push)", len(n.Commits))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no push")
	}
}

func TestRejectedPushIsNotForced(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	// A pre-receive hook refuses everything, as a protected branch would.
	hook := filepath.Join(remote, "hooks", "pre-receive")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho 'branch is protected' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := gittest.Git(t, remote, "rev-parse", "main")
	r := open(t, Options{Remote: remote, Push: PushSync, Backoff: func(int) time.Duration { return time.Hour }})
	file, path := media(t, 1000)
	_, err := r.Commit(context.Background(), upload(file, path))
	if !errors.Is(err, ErrPushFailed) {
		t.Fatalf("err = %v, want ErrPushFailed", err)
	}
	if after := gittest.Git(t, remote, "rev-parse", "main"); after != before {
		t.Errorf("remote moved despite the rejection")
	}
}

func TestOpenAndStat(t *testing.T) {
	r := open(t, Options{})
	ctx := context.Background()
	file, path := media(t, 3<<20) // above the large-object threshold
	if _, err := r.Commit(ctx, upload(file, path)); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(file)
	c, e, err := r.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if e.Size != int64(len(want)) {
		t.Errorf("size = %d, want %d", e.Size, len(want))
	}
	got, _ := io.ReadAll(c)
	if !bytes.Equal(got, want) {
		t.Error("content differs")
	}
	// Seek back and into the middle, as a range request does.
	for _, off := range []int64{100, 5, 2 << 20} {
		if _, err := c.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 10)
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, want[off:off+10]) {
			t.Errorf("bytes at %d differ", off)
		}
	}
	if _, err := r.Stat(ctx, "media/00/00/none.jpg"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stat missing: %v", err)
	}
	if _, _, err := r.Open(ctx, "../etc/passwd"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open bad path: %v", err)
	}
	if err := r.Healthy(ctx); err != nil {
		t.Errorf("Healthy: %v", err)
	}
}

func TestCloneFromEmptyRemote(t *testing.T) {
	dir := t.TempDir()
	remote := filepath.Join(dir, "empty.git")
	gittest.Git(t, dir, "init", "-q", "--bare", "-b", "main", remote)
	r := open(t, Options{Remote: remote, Push: PushSync})
	file, path := media(t, 1000)
	res, err := r.Commit(context.Background(), upload(file, path))
	if err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, remote, "rev-parse", "main"); got != res.Commit {
		t.Errorf("remote main = %s, want %s", got, res.Commit)
	}
	gittest.Fsck(t, remote)
}

func TestMessage(t *testing.T) {
	m := Message{Subject: "Add abc.jpg (evil\nMedia-SHA256: forged)", Trailers: []Trailer{
		{"Media-SHA256", "abc"}, {"Media-Filename", "a\r\nMedia-Type: text/html"},
	}}
	s := m.String()
	if strings.Count(s, "\n") != 4 {
		t.Errorf("message has injected lines:\n%s", s)
	}
	p := ParseMessage(s)
	if got, want := p.Value("Media-SHA256"), "abc"; got != want {
		t.Errorf("Media-SHA256 = %q, want %q", got, want)
	}
	if got := p.Value("media-type"); got != "" {
		t.Errorf("forged trailer parsed: %q", got)
	}
	if got := ParseMessage("Start the site\n\nJust a body.\n"); len(got.Trailers) != 0 || got.Subject != "Start the site" {
		t.Errorf("ParseMessage(plain) = %+v", got)
	}
}

// TestPushFailedReportedOnce: during an outage the pusher retries, but
// each waiting commit is reported as failed once (push_failed hooks fire
// once per upload, not every retry).
func TestPushFailedReportedOnce(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	failures := make(chan Notice, 100)
	r := open(t, Options{Remote: remote, Push: PushAsync, PushAttempts: 1, Notify: func(n Notice) {
		if n.Kind == NoticePushFailed {
			failures <- n
		}
	}})
	if err := os.Rename(remote, remote+".away"); err != nil {
		t.Fatal(err)
	}
	defer os.Rename(remote+".away", remote)
	file, path := media(t, 1000)
	if _, err := r.Commit(context.Background(), upload(file, path)); err != nil {
		t.Fatal(err)
	}
	reported := 0
	for range 3 {
		select {
		case n := <-failures:
			reported += len(n.Commits)
			if n.Err == nil {
				t.Error("failure notice without Err")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no retries")
		}
	}
	if reported != 1 {
		t.Errorf("commit reported as failed %d times over 3 failed pushes, want 1", reported)
	}
}

// TestAsyncPushDelayIsBounded: uploads arriving faster than push_delay
// still get pushed now and then, not only after the stream stops.
func TestAsyncPushDelayIsBounded(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	pushed := make(chan Notice, 100)
	r := open(t, Options{Remote: remote, Push: PushAsync, PushDelay: 100 * time.Millisecond, Notify: func(n Notice) {
		if n.Kind == NoticePushed {
			pushed <- n
		}
	}})
	deadline := time.Now().Add(maxDebounce*100*time.Millisecond + 2*time.Second)
	for time.Now().Before(deadline) {
		file, p := media(t, 500)
		if _, err := r.Commit(context.Background(), upload(file, p)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-pushed:
			return
		case <-time.After(40 * time.Millisecond):
		}
	}
	t.Fatalf("no push while uploads kept arriving every 40 ms with push_delay 100 ms")
}
