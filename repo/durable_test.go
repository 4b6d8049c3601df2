package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"spano/internal/gittest"
	"spano/internal/safebuf"
)

// syncLog is a Syncer that records every call, in order, and can hold the
// writer inside a sync until released, so that commits queue behind it.
type syncLog struct {
	mu    sync.Mutex
	calls []string // "file PATH" or "dir PATH", relative to the repository
	repo  string
	// hold, when set, is waited on by the next SyncDir of refs/heads: the
	// writer is then busy, between a group's syncs and its answers.
	hold chan struct{}
	held chan struct{} // closed when a sync is being held
}

func (s *syncLog) record(kind, path string) {
	rel, err := filepath.Rel(s.repo, path)
	if err != nil {
		rel = path
	}
	s.mu.Lock()
	s.calls = append(s.calls, kind+" "+filepath.ToSlash(rel))
	hold := s.hold
	if kind == "dir" && filepath.ToSlash(rel) == "refs/heads" && hold != nil {
		s.hold = nil
	} else {
		hold = nil
	}
	s.mu.Unlock()
	if hold != nil {
		close(s.held)
		<-hold
	}
}

func (s *syncLog) SyncFile(path string) error { s.record("file", path); return syncPath(path) }
func (s *syncLog) SyncDir(path string) error  { s.record("dir", path); return syncPath(path) }

func (s *syncLog) snapshot() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func (s *syncLog) reset() {
	s.mu.Lock()
	s.calls = nil
	s.mu.Unlock()
}

// packOf is the index of the pack in repo that holds object h.
func packOf(t *testing.T, repo, h string) string {
	t.Helper()
	idxs, _ := filepath.Glob(filepath.Join(repo, "objects", "pack", "*.idx"))
	for _, idx := range idxs {
		if strings.Contains(gittest.Git(t, repo, "verify-pack", "-v", idx), h) {
			return idx
		}
	}
	t.Fatalf("object %s is in no pack", h)
	return ""
}

// treesOf lists the trees of commit c: the root and every folder in it.
func treesOf(t *testing.T, repo, c string) []string {
	t.Helper()
	out := []string{gittest.Git(t, repo, "rev-parse", c+"^{tree}")}
	for _, line := range strings.Split(gittest.Git(t, repo, "ls-tree", "-r", "-t", c), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[1] == "tree" {
			out = append(out, f[2])
		}
	}
	return out
}

func indexOf(calls []string, want string) int {
	for i, c := range calls {
		if c == want {
			return i
		}
	}
	return -1
}

// TestCommitIsDurableInOrder: before Commit returns, a large blob is
// synced (as its temp file, before the rename) and then its folder; the
// trees and the commit, and a small blob, written as one pack and its
// index, are synced under their temporary names with the ref's lock
// file; then the folders (objects/pack, the large blob's, objects/);
// then the lock is renamed over the ref, and last refs/heads is synced.
// A crash at any point leaves a ref that names only objects already on
// disk.
func TestCommitIsDurableInOrder(t *testing.T) {
	for _, mode := range []PushMode{PushOff, PushAsync, PushSync} {
		for _, size := range []int{5000, packBlobMax + 1} {
			loose := size > packBlobMax
			t.Run(fmt.Sprintf("%s/loose=%v", mode, loose), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "clone.git")
				s := &syncLog{repo: path}
				opts := Options{Path: path, Syncer: s, Push: mode}
				if mode != PushOff {
					opts.Remote = gittest.NewRemote(t, nil)
				}
				r := open(t, opts)
				s.reset()
				file, p := media(t, size)
				res, err := r.Commit(context.Background(), upload(file, p))
				if err != nil {
					t.Fatal(err)
				}
				checkDurableOrder(t, path, s.snapshot(), res.Commit, blobOf(t, path, p), loose)
			})
		}
	}
}

// checkDurableOrder checks the syncs calls, as they were when Commit
// returned commit, whose file is blob (loose, or in the group's pack).
func checkDurableOrder(t *testing.T, path string, calls []string, commit, blob string, loose bool) {
	t.Helper()
	if first := strings.HasPrefix(calls[0], "file objects/"+tempBlobPrefix); first != loose {
		t.Errorf("first sync = %q; want the blob's temp file first: %v", calls[0], loose)
	}
	var pack, idx string
	for _, c := range calls {
		switch {
		case strings.HasPrefix(c, "file objects/pack/"+tempPackPrefix):
			pack = c
		case strings.HasPrefix(c, "file objects/pack/"+tempIdxPrefix):
			idx = c
		}
	}
	if pack == "" || idx == "" {
		t.Fatalf("the group's pack and index were not synced: %q", calls)
	}
	// The commit and its trees are in that pack, none loose; the blob
	// is loose or in it.
	inPack := append(treesOf(t, path, commit), commit)
	if !loose {
		inPack = append(inPack, blob)
	}
	for _, o := range inPack {
		if fileExists(looseObject(path, o)) {
			t.Errorf("object %s is loose", o)
		}
	}
	if fileExists(looseObject(path, blob)) != loose {
		t.Errorf("blob loose: %v, want %v", !loose, loose)
	}
	out := gittest.Git(t, path, "verify-pack", "-v", packOf(t, path, commit))
	if !strings.Contains(out, commit+" commit") || strings.Contains(out, blob+" blob") == loose {
		t.Errorf("the commit (and the small blob) are not in its pack:\n%s", out)
	}
	// The pack, its index and the ref's lock, then the folders of every
	// object (a loose blob's too), then the ref's folder.
	files := []string{pack, idx, "file refs/heads/main.lock"}
	dirs := []string{"dir objects", "dir objects/pack"}
	if loose {
		dirs = append(dirs, "dir objects/"+blob[:2])
	}
	last := indexOf(calls, "dir refs/heads")
	if last < 0 {
		t.Fatalf("the branch's folder was not synced: %q", calls)
	}
	for _, f := range files {
		i := indexOf(calls, f)
		for _, d := range dirs {
			if j := indexOf(calls, d); i < 0 || j < 0 || i > j {
				t.Errorf("%q (at %d) is not synced before %q (at %d): %q", f, i, d, j, calls)
			}
		}
	}
	for _, d := range dirs {
		if j := indexOf(calls, d); j > last {
			t.Errorf("%q synced after the branch's folder", d)
		}
	}
	for _, c := range calls[last+1:] {
		// In sync mode the push, after the commit was durable, moves the
		// remote-tracking ref.
		if !strings.HasPrefix(c, "file refs/remotes/") && !strings.HasPrefix(c, "dir refs/remotes/") {
			t.Errorf("sync after the branch's folder: %q", c)
		}
	}
	if got := gittest.Git(t, path, "cat-file", "-t", commit); got != "commit" {
		t.Errorf("cat-file -t = %q", got)
	}
}

// TestGroupCommit: 32 uploads arriving while the writer is busy are
// committed as a chain of 32 commits, each with its own trailers, with
// one update of the ref for all of them; one change among them that
// cannot be made (its path holds other bytes) fails alone.
func TestGroupCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clone.git")
	s := &syncLog{repo: path}
	r := open(t, Options{Path: path, Syncer: s})
	ctx := context.Background()

	// A first commit, held inside its ref sync: the writer is busy.
	s.mu.Lock()
	s.hold, s.held = make(chan struct{}), make(chan struct{})
	release := s.hold
	s.mu.Unlock()
	file, p := media(t, 100)
	first := make(chan error, 1)
	go func() {
		_, err := r.Commit(ctx, upload(file, p))
		first <- err
	}()
	<-s.held

	// A file whose path will hold other bytes when its change comes up.
	taken, takenPath := media(t, 200)
	other, _ := media(t, 300)
	const n = 32
	type outcome struct {
		res Result
		err error
	}
	results := make([]outcome, n+1)
	var wg sync.WaitGroup
	var paths []string
	for i := range n {
		file, p := media(t, 1000+i)
		paths = append(paths, p)
		c := upload(file, p)
		c.Message.Trailers = append(c.Message.Trailers, Trailer{"Media-Filename", fmt.Sprintf("photo-%d.jpg", i)})
		if i == n/2 {
			// The conflicting change sits in the middle of the group.
			c = Change{Add: []Blob{{Path: "media/x.jpg", File: other}, {Path: takenPath, File: other}},
				Message: Message{Subject: "conflict"}}
			paths[i] = ""
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.Commit(ctx, upload(taken, takenPath)) // the bytes that take the path
			}()
			time.Sleep(20 * time.Millisecond)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := r.Commit(ctx, c)
			results[i] = outcome{res, err}
		}()
	}
	// Wait until every change is queued at the writer.
	time.Sleep(300 * time.Millisecond)
	s.reset()
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	for i, o := range results[:n] {
		if i == n/2 {
			if !errors.Is(o.err, ErrConflict) {
				t.Errorf("conflicting change: err = %v, want ErrConflict", o.err)
			}
			continue
		}
		if o.err != nil {
			t.Errorf("upload %d: %v", i, o.err)
		}
	}
	refUpdates := 0
	for _, c := range s.snapshot() {
		if c == "file refs/heads/main.lock" {
			refUpdates++
		}
	}
	if refUpdates != 1 {
		t.Errorf("%d ref updates for the queued group, want 1", refUpdates)
	}
	// 1 held + 31 uploads + the taker of the path = 33 commits, linear.
	if got := commitCount(t, path, "main"); got != n+1 {
		t.Errorf("%d commits on main, want %d", got, n+1)
	}
	for i, p := range paths {
		if p == "" {
			continue
		}
		msg := gittest.Git(t, path, "log", "-1", "--format=%B", results[i].res.Commit)
		if want := fmt.Sprintf("Media-Filename: photo-%d.jpg", i); !strings.Contains(msg, want) {
			t.Errorf("commit of upload %d lacks %q:\n%s", i, want, msg)
		}
		gittest.Git(t, path, "cat-file", "-e", "main:"+p)
	}
	if out := gittest.Git(t, path, "fsck", "--strict"); strings.Contains(out, "error") {
		t.Errorf("fsck: %s", out)
	}
}

// TestNotifyMustNotCallBack: Notify runs on the writer; a call from it
// back into Repo panics with a message instead of deadlocking.
func TestNotifyMustNotCallBack(t *testing.T) {
	var r *Repo
	got := make(chan any, 1)
	r = open(t, Options{Notify: func(n Notice) {
		defer func() { got <- recover() }()
		r.Head(context.Background())
	}})
	file, p := media(t, 100)
	if _, err := r.Commit(context.Background(), upload(file, p)); err != nil {
		t.Fatal(err)
	}
	if msg, _ := (<-got).(string); !strings.Contains(msg, "Notify called back") {
		t.Errorf("recovered %q, want the re-entrance panic", msg)
	}
	// Other goroutines still use the repository while no notice runs.
	if _, err := r.Head(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestNewRepositoryIsBareToGit: git itself takes spano's new clone for a
// bare repository (it needs core.repositoryformatversion, which go-git's
// init leaves out).
func TestNewRepositoryIsBareToGit(t *testing.T) {
	r := open(t, Options{})
	if got := gittest.Git(t, r.opts.Path, "rev-parse", "--is-bare-repository"); got != "true" {
		t.Errorf("rev-parse --is-bare-repository = %q, want true", got)
	}
	if got := gittest.Git(t, r.opts.Path, "config", "core.repositoryformatversion"); got != "0" {
		t.Errorf("core.repositoryformatversion = %q, want 0", got)
	}
}

// TestHousekeepingWithRelativePath: with a relative repository path (the
// embedded default's ./spano-data/site.git) git gc still finds the clone.
func TestHousekeepingWithRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	var logs safebuf.Buffer
	r := open(t, Options{Path: "./spano-data/site.git", GCEvery: 1, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	dueForGC(t, filepath.Join(dir, "spano-data", "site.git"))
	file, p := media(t, 100)
	if _, err := r.Commit(context.Background(), upload(file, p)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); r.gc.running.Load() || r.gc.gen.Load() < 1; {
		if time.Now().After(deadline) {
			t.Fatalf("gc did not pack the clone; log:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Contains(logs.String(), "git gc failed") {
		t.Errorf("gc failed:\n%s", logs.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "spano-data", "site.git", "objects", "pack")); err != nil {
		t.Error(err)
	}
}

// TestHealthyDoesNotWaitForTheWriter: a health check answers at once
// while the writer is busy with a group of commits, and still sees a
// branch moved behind spano's back.
func TestHealthyDoesNotWaitForTheWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clone.git")
	s := &syncLog{repo: path}
	r := open(t, Options{Path: path, Syncer: s})
	ctx := context.Background()
	first, p := media(t, 100)
	if _, err := r.Commit(ctx, upload(first, p)); err != nil {
		t.Fatal(err)
	}

	s.mu.Lock()
	s.hold, s.held = make(chan struct{}), make(chan struct{})
	release := s.hold
	s.mu.Unlock()
	file, p2 := media(t, 200)
	done := make(chan error, 1)
	go func() {
		_, err := r.Commit(ctx, upload(file, p2))
		done <- err
	}()
	<-s.held // the writer is inside the group's syncs
	start := time.Now()
	if err := r.Healthy(ctx); err != nil {
		t.Errorf("Healthy while the writer is busy: %v", err)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("Healthy took %s while the writer was busy", took)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Someone runs git in the clone and moves the branch.
	gittest.Git(t, path, "update-ref", "refs/heads/main", "HEAD~1")
	if err := r.Healthy(ctx); err == nil || !strings.Contains(err.Error(), "moved outside spano") {
		t.Errorf("Healthy after the branch moved = %v, want it to say so", err)
	}
}

// TestBlobPackedBeforeCommit: git gc, running beside spano, packs a blob
// between WriteBlob and the Commit that names it, and git prune-packed
// deletes its loose file and the emptied folder. The commit finds it in
// the pack instead of failing on the folder's sync; a blob that is gone
// for good fails the commit.
func TestBlobPackedBeforeCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clone.git")
	r := open(t, Options{Path: path, GCEvery: -1})
	ctx := context.Background()
	file, p := media(t, 3000)
	b, err := r.WriteBlob(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("git", "pack-objects", "-q", filepath.Join(path, "objects", "pack", "pack"))
	cmd.Dir, cmd.Stdin = path, strings.NewReader(b.Hash+"\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pack-objects: %v\n%s", err, out)
	}
	gittest.Git(t, path, "prune-packed")
	if _, err := os.Stat(filepath.Dir(looseObject(path, b.Hash))); !os.IsNotExist(err) {
		t.Fatalf("prune-packed left the blob's folder: %v", err)
	}
	res, err := r.Commit(ctx, Change{Add: []Blob{{Path: p, Hash: b.Hash}}, Message: upload(file, p).Message})
	if err != nil {
		t.Fatalf("commit of a blob git packed: %v", err)
	}
	if got := gittest.Git(t, path, "rev-parse", res.Commit+":"+p); got != b.Hash {
		t.Errorf("%s holds %s, want %s", p, got, b.Hash)
	}
	gittest.Fsck(t, path)

	missing := strings.Repeat("ab", 20)
	if _, err := r.Commit(ctx, Change{Add: []Blob{{Path: "media/ab/ab/x.jpg", Hash: missing}}, Message: Message{Subject: "Add x"}}); err == nil {
		t.Error("a commit naming a blob that is nowhere succeeded")
	}
}

// TestOldLooseBlobFreshened: bytes deleted long ago are still a loose,
// unreachable object with an old time; uploaded again, spano finds the
// object there and must renew its time, as git freshens an object it
// would write, or a git prune beside it (unreachable and older than its
// expiry) takes the blob from under the commit about to name it.
func TestOldLooseBlobFreshened(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clone.git")
	r := open(t, Options{Path: path, GCEvery: -1})
	ctx := context.Background()
	file, p := media(t, 3000)
	old, err := r.WriteBlob(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	loose := looseObject(path, old.Hash)
	month := time.Now().Add(-30 * 24 * time.Hour)
	if err := os.Chtimes(loose, month, month); err != nil {
		t.Fatal(err)
	}
	again, err := r.WriteBlob(ctx, file)
	if err != nil || again.Hash != old.Hash {
		t.Fatalf("WriteBlob again = %v, %v; want %s", again, err, old.Hash)
	}
	// Nothing names the blob yet: prune with a two-week expiry.
	gittest.Git(t, path, "prune", "--expire", "2.weeks.ago")
	if _, err := os.Stat(loose); err != nil {
		t.Fatalf("git prune removed the blob written again: %v", err)
	}
	res, err := r.Commit(ctx, Change{Add: []Blob{{Path: p, Hash: again.Hash}}, Message: upload(file, p).Message})
	if err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, path, "rev-parse", res.Commit+":"+p); got != old.Hash {
		t.Errorf("%s holds %s, want %s", p, got, old.Hash)
	}
	gittest.Fsck(t, path)
}

// TestCommitData: a file handed over as bytes (a record) is committed
// as they are, beside a file from disk, and as durably: small, both go
// into the group's pack, no loose file of their own; above packBlobMax,
// each is a loose object synced before the commit returns.
func TestCommitData(t *testing.T) {
	for _, size := range []int{3000, packBlobMax + 1} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "clone.git")
			s := &syncLog{repo: path}
			r := open(t, Options{Path: path, GCEvery: -1, Syncer: s})
			s.reset()
			file, p := media(t, size)
			data := []byte(`{"sha256":"` + strings.Repeat("ab", 32) + `"}`)
			data = append(data, bytes.Repeat([]byte(" "), size-len(data))...)
			c := upload(file, p)
			c.Add = append(c.Add, Blob{Path: "_data/spano/ab/ab/x.json", Data: data})
			res, err := r.Commit(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if got := gittest.Git(t, path, "show", res.Commit+":_data/spano/ab/ab/x.json"); got != strings.TrimSpace(string(data)) {
				t.Errorf("committed %.80q, want %.80q", got, data)
			}
			blobs := 0
			for _, call := range s.snapshot() {
				if strings.HasPrefix(call, "file objects/"+tempBlobPrefix) {
					blobs++
				}
			}
			want := 0
			if size > packBlobMax {
				want = 2
			}
			if blobs != want {
				t.Errorf("%d loose blob files synced, want %d (the file and the bytes): %q", blobs, want, s.snapshot())
			}
			pack := gittest.Git(t, path, "verify-pack", "-v", packOf(t, path, res.Commit))
			for _, b := range []string{blobOf(t, path, p), blobOf(t, path, "_data/spano/ab/ab/x.json")} {
				if inPack := strings.Contains(pack, b+" blob"); inPack != (want == 0) {
					t.Errorf("blob %s in the group's pack: %v", b, inPack)
				}
			}
			gittest.Fsck(t, path)
		})
	}
}
