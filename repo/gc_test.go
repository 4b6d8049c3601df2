package repo

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"spano/internal/gittest"
	"strings"
	"testing"
	"time"
)

// looseObject is the path of object h's loose file in the repository.
func looseObject(repo, h string) string {
	return filepath.Join(repo, "objects", h[:2], h[2:])
}

// blobOf is the blob hash of path on the branch, as git sees it.
func blobOf(t *testing.T, repo, path string) string {
	t.Helper()
	return gittest.Git(t, repo, "rev-parse", "main:"+path)
}

// readBack opens each path through r and compares it with its file.
func readBack(t *testing.T, r *Repo, files map[string]string) {
	t.Helper()
	for path, file := range files {
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		rc, _, err := r.Open(context.Background(), path)
		if err != nil {
			t.Fatalf("Open %s: %v", path, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: read back %d bytes that differ from the %d uploaded", path, len(got), len(want))
		}
	}
}

// dueForGC makes git gc --auto find work in repo: gc.auto 1 and two loose
// objects in objects/17, the folder git samples to estimate how many loose
// objects there are. Nothing refers to them and they are new, so no gc
// removes them and every later gc --auto finds work again.
func dueForGC(t *testing.T, repo string) {
	t.Helper()
	gittest.Git(t, repo, "config", "gc.auto", "1")
	// Two packs (this one and a commit's) are more than the limit, which
	// makes the run repack all: only that packs the blobs of commits that
	// are packed (see housekeeper).
	gittest.Git(t, repo, "config", "gc.autoPackLimit", "1")
	var seed string
	for i, found := 0, 0; found < 2; i++ {
		content := fmt.Sprintf("loose %d\n", i)
		sum := sha1.Sum([]byte(fmt.Sprintf("blob %d\x00%s", len(content), content)))
		if h := hex.EncodeToString(sum[:]); strings.HasPrefix(h, "17") {
			f := filepath.Join(t.TempDir(), "obj")
			if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if got := gittest.Git(t, repo, "hash-object", "-w", f); got != h {
				t.Fatalf("hash-object = %s, want %s", got, h)
			}
			seed = h
			found++
		}
	}
	cmd := exec.Command("git", "pack-objects", "-q", filepath.Join(repo, "objects", "pack", "pack"))
	cmd.Dir, cmd.Stdin = repo, strings.NewReader(seed+"\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pack-objects: %v\n%s", err, out)
	}
}

// TestHousekeepingPacks: every GCEvery commits spano runs git gc --auto
// beside its writer; the objects it packed are read, served and pushed
// from the new pack, and the next commits build on them.
func TestHousekeepingPacks(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	r := open(t, Options{Remote: remote, Push: PushSync, GCEvery: 3})
	if r.gc == nil || r.gc.git == "" {
		t.Fatal("no housekeeper, though git is on the PATH")
	}
	waitGC(t, r, 0) // the run at Open, which finds nothing to do
	if n := r.gc.gen.Load(); n != 0 {
		t.Fatalf("the gc at Open changed the packs of a fresh clone (gen %d)", n)
	}
	dueForGC(t, r.opts.Path)

	ctx := context.Background()
	files := map[string]string{}
	var paths []string
	for i, size := range []int{2 << 20, 5_000, 70_000} { // the first above largeObjectThreshold
		file, path := media(t, size)
		files[path], paths = file, append(paths, path)
		if _, err := r.Commit(ctx, upload(file, path)); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
		readBack(t, r, files) // the reader's storage knows the old packs
	}
	waitGC(t, r, 1) // started by the third commit
	for _, path := range paths {
		if h := blobOf(t, r.opts.Path, path); fileExists(looseObject(r.opts.Path, h)) {
			t.Errorf("%s is still loose after gc", path)
		}
	}
	readBack(t, r, files)

	file, path := media(t, 3<<20)
	res, err := r.Commit(ctx, upload(file, path))
	if err != nil {
		t.Fatalf("commit after gc: %v", err)
	}
	if !res.Pushed {
		t.Error("the commit after gc was not pushed")
	}
	files[path] = file
	readBack(t, r, files)
	if got := gittest.Git(t, remote, "rev-parse", "main"); got != res.Commit {
		t.Errorf("remote main = %s, want %s", got, res.Commit)
	}
	if n := commitCount(t, remote, "main"); n != 5 {
		t.Errorf("remote has %d commits, want 5", n)
	}
	gittest.Fsck(t, remote)
	gittest.Fsck(t, r.opts.Path)
	if out := gittest.Git(t, r.opts.Path, "for-each-ref", "--format=%(refname)"); !strings.Contains(out, "refs/heads/main") {
		t.Errorf("refs = %q", out)
	}
	if _, err := os.Stat(filepath.Join(r.opts.Path, "refs", "heads", "main")); err != nil {
		t.Errorf("gc packed the branch ref, which go-git moves without git's lock: %v", err)
	}
}

// TestGitGCByHand: the site owner runs git gc on spano's clone while
// spano runs. It deletes the loose objects and the packs spano's
// storages know, packed refs and all; spano reads, commits and pushes on
// from the new pack.
func TestGitGCByHand(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	r := open(t, Options{Remote: remote, Push: PushSync, GCEvery: -1})
	if r.gc != nil {
		t.Fatal("GCEvery -1 still made a housekeeper")
	}
	ctx := context.Background()
	files := map[string]string{}
	commit := func() {
		t.Helper()
		file, path := media(t, 2<<20)
		files[path] = file
		res, err := r.Commit(ctx, upload(file, path))
		if err != nil {
			t.Fatalf("commit: %v", err)
		}
		if !res.Pushed {
			t.Error("not pushed")
		}
	}
	commit()
	readBack(t, r, files)
	for round := 1; round <= 2; round++ {
		// Loose objects the storages read as loose move into a pack, and
		// the pack they know is deleted.
		gittest.Git(t, r.opts.Path, "gc", "--quiet", "--prune=now")
		readBack(t, r, files)
		commit()
		readBack(t, r, files)
	}
	// Everything in one pack, which the reader then knows; the owner
	// tags a file of their own, and the next gc replaces that pack. The
	// reader still holds it open and finds every object in it, but reads
	// a big object by opening the pack again.
	gittest.Git(t, r.opts.Path, "gc", "--quiet", "--prune=now")
	readBack(t, r, files)
	before := packs(r.opts.Path)
	f := filepath.Join(t.TempDir(), "note")
	if err := os.WriteFile(f, []byte("a note\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, r.opts.Path, "tag", "note", gittest.Git(t, r.opts.Path, "hash-object", "-w", f))
	gittest.Git(t, r.opts.Path, "gc", "--quiet", "--prune=now")
	for _, p := range before {
		if fileExists(p) {
			t.Fatalf("gc kept pack %s", p)
		}
	}
	readBack(t, r, files)
	commit()
	readBack(t, r, files)
	if n := commitCount(t, remote, "main"); n != 5 {
		t.Errorf("remote has %d commits, want 5", n)
	}
	gittest.Fsck(t, remote)
	gittest.Fsck(t, r.opts.Path)
}

// TestHousekeepingWithoutGit: without git on the PATH spano commits as
// ever; its objects stay loose.
func TestHousekeepingWithoutGit(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	r := open(t, Options{GCEvery: 1})
	if r.gc == nil || r.gc.git != "" {
		t.Fatalf("housekeeper = %+v, want one without git", r.gc)
	}
	file, path := media(t, 1000)
	if _, err := r.Commit(context.Background(), upload(file, path)); err != nil {
		t.Fatal(err)
	}
	if r.gc.running.Load() {
		t.Error("a gc is running without git")
	}
	readBack(t, r, map[string]string{path: file})
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestFreshViewsDuringGC: a view opened while spano's gc repacks can list
// packs that are gone when it reads them and miss the pack replacing
// them; it must find the head's trees anyway, not answer "object not
// found" (the media size measure did, after every 100th commit).
func TestFreshViewsDuringGC(t *testing.T) {
	r := open(t, Options{GCEvery: 5})
	if r.gc == nil || r.gc.git == "" {
		t.Fatal("no housekeeper, though git is on the PATH")
	}
	dueForGC(t, r.opts.Path)
	ctx := context.Background()
	for i := range 60 {
		file, p := media(t, 200+i)
		if _, err := r.Commit(ctx, upload(file, p)); err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
		for r.gc.running.Load() {
			if _, err := r.MediaBytes(ctx, "media"); err != nil {
				t.Fatalf("commit %d, gc running (run %d): %v", i, r.gc.gen.Load(), err)
			}
		}
	}
	if r.gc.gen.Load() == 0 {
		t.Error("no gc changed the packs: the test read nothing during a repack")
	}
}

// waitGC waits until no gc runs on r and gen runs have changed the packs.
func waitGC(t *testing.T, r *Repo, gen uint64) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); r.gc.running.Load() || r.gc.gen.Load() < gen; {
		if time.Now().After(deadline) {
			t.Fatalf("gc did not finish: running=%v gen=%d, want %d", r.gc.running.Load(), r.gc.gen.Load(), gen)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// newestPack is the pack written last in the repository at path.
func newestPack(t *testing.T, path string) string {
	t.Helper()
	var newest string
	var at time.Time
	for _, p := range packs(path) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.ModTime().After(at) {
			newest, at = p, fi.ModTime()
		}
	}
	if newest == "" {
		t.Fatal("no pack")
	}
	return newest
}

// TestPackIndexRestored: git gc lists the pack folder while spano renames
// a new group pack and then its index into it; a listing that misses the
// pack and sees the index makes gc delete the index as garbage, and then
// nothing in the repository can be read (seen under load: every upload
// failed with "packfile not found", and git gc with "Could not read").
// The index is restored at Open and after each gc run.
func TestPackIndexRestored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clone.git")
	r := open(t, Options{Path: path, GCEvery: -1})
	ctx := context.Background()
	files := map[string]string{}
	commit := func(r *Repo) string {
		t.Helper()
		file, p := media(t, 4000+len(files))
		files[p] = file
		res, err := r.Commit(ctx, upload(file, p))
		if err != nil {
			t.Fatal(err)
		}
		return res.Commit
	}
	var head string
	for range 3 {
		head = commit(r)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	lose := func() {
		t.Helper()
		idx := strings.TrimSuffix(newestPack(t, path), ".pack") + ".idx"
		if err := os.Remove(idx); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("git", "-C", path, "cat-file", "-t", head).CombinedOutput(); err == nil {
			t.Fatalf("the head commit is still readable without its pack's index: %s", out)
		}
	}
	lose()
	r = open(t, Options{Path: path, GCEvery: 1})
	gittest.Fsck(t, path)
	readBack(t, r, files)

	// Now as a gc run leaves it: the index of the newest pack gone while
	// spano runs; the next gc run puts it back.
	head = commit(r)
	waitGC(t, r, 0)
	lose()
	commit(r) // starts a gc run
	waitGC(t, r, 0)
	gittest.Fsck(t, path)
	readBack(t, r, files)
}
