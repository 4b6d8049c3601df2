//go:build integration

package integration

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"spano/internal/gittest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCrashDuringLargeUpload kills spano while a 100 MB upload is
// streaming in: nothing of it may be committed, its spooled temp file must
// be gone after the restart, and both repositories must pass fsck.
func TestCrashDuringLargeUpload(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	s := newSpano(t, "spano", options{remote: remote, push: "sync", maxSize: "200MB"})
	s.start()
	first := s.mustUpload("before.png", pngImage(1))
	before := gittest.Git(t, remote, "rev-parse", "main")

	// Stream a PNG signature and then random bytes, 1 MiB every 20 ms,
	// so the kill lands in the middle of the body.
	const total = 100 << 20
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("file", "huge.png")
		if err != nil {
			pw.CloseWithError(err)
			return
		}
		if _, err := part.Write(pngImage(2)[:32]); err != nil {
			return
		}
		chunk := make([]byte, 1<<20)
		for sent := 0; sent < total; sent += len(chunk) {
			rand.Read(chunk)
			if _, err := part.Write(chunk); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		mw.Close()
		pw.Close()
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	posted := make(chan response, 1)
	go func() {
		r, _ := s.post(ctx, mw.FormDataContentType(), pr)
		posted <- r
	}()

	// Kill once a good part of the body is spooled.
	spool := ""
	eventually(t, 60*time.Second, func() string {
		for _, f := range s.tmpFiles() {
			if st, err := os.Stat(filepath.Join(s.dataDir, "tmp", f)); err == nil && strings.HasPrefix(f, "spool-") && st.Size() > 20<<20 {
				spool = f
				return ""
			}
		}
		return fmt.Sprintf("no spool file over 20 MB in %v", s.tmpFiles())
	})
	s.kill()
	pw.CloseWithError(io.ErrClosedPipe)
	if r := <-posted; r.status != 0 {
		t.Errorf("the killed upload got an answer: %d %s", r.status, r.body)
	}
	if _, err := os.Stat(filepath.Join(s.dataDir, "tmp", spool)); err != nil {
		t.Fatalf("the crash left no spool file behind, so this test proves nothing: %v", err)
	}

	s.start()
	if left := s.tmpFiles(); len(left) > 0 {
		t.Errorf("temp files after restart: %v", left)
	}
	for _, dir := range []string{remote, s.repo} {
		if got := gittest.Git(t, dir, "rev-parse", "main"); got != before {
			t.Errorf("%s: main is %s after the crash, want %s (nothing of the killed upload committed)", dir, got, before)
		}
		if got, want := len(mediaCounts(t, dir, "main")), 1; got != want {
			t.Errorf("%s: %d uploads on main, want %d", dir, got, want)
		}
		gittest.Fsck(t, dir)
	}
	again := s.mustUpload("before.png", pngImage(1))
	if !again.Duplicate || again.URL != first.URL {
		t.Errorf("re-upload after restart: duplicate %v url %s, want a duplicate of %s", again.Duplicate, again.URL, first.URL)
	}
}

// TestCrashWhileStoringBlob kills spano after a large upload was spooled,
// while the repository streams it into a loose object: the half-written
// object file must not outlive the restart (it is as large as the upload),
// nothing may be committed, and both repositories must pass fsck.
func TestCrashWhileStoringBlob(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	// A video: no GPS stripping and no thumbnails stand between the spool
	// and the blob write.
	// A remote that takes files this big (repo.max_file_size raised).
	s := newSpano(t, "spano", options{remote: remote, push: "sync", maxSize: "200MB", maxFile: "1GB", keepGPS: true})
	s.start()
	before := gittest.Git(t, remote, "rev-parse", "main")

	video := make([]byte, 120<<20)
	rand.Read(video)
	copy(video, "\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41")
	posted := make(chan response, 1)
	go func() {
		r, _ := s.upload(context.Background(), "big.mp4", video)
		posted <- r
	}()

	objects := filepath.Join(s.repo, "objects")
	var partial string
	deadline := time.Now().Add(60 * time.Second)
	for partial == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no temporary object appeared in %s", objects)
		}
		select {
		case r := <-posted:
			t.Fatalf("the upload ended before the kill: %d %s", r.status, r.body)
		default:
		}
		entries, _ := os.ReadDir(objects)
		for _, e := range entries {
			if info, err := e.Info(); err == nil && info.Mode().IsRegular() && strings.HasPrefix(e.Name(), ".tmp-") && info.Size() > 1<<20 {
				partial = e.Name()
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	s.kill()
	if _, err := os.Stat(filepath.Join(objects, partial)); err != nil {
		t.Fatalf("the kill left no temporary object behind, so this test proves nothing: %v", err)
	}

	s.start()
	if _, err := os.Stat(filepath.Join(objects, partial)); err == nil {
		t.Errorf("the half-written object %s outlived the restart", partial)
	}
	if left := s.tmpFiles(); len(left) > 0 {
		t.Errorf("temp files after restart: %v", left)
	}
	for _, dir := range []string{remote, s.repo} {
		if got := gittest.Git(t, dir, "rev-parse", "main"); got != before {
			t.Errorf("%s: main is %s after the crash, want %s", dir, got, before)
		}
		gittest.Fsck(t, dir)
	}
}

// TestCrashAfterAsyncBurst kills spano right after it answered 201 to a
// burst of async uploads that it had not pushed yet (push_delay is an
// hour): after the restart every one of them must reach the remote, once.
func TestCrashAfterAsyncBurst(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	s := newSpano(t, "spano", options{remote: remote, push: "async", pushDelay: "1h"})
	s.start()

	const n = 16
	want := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := pngImage(100 + i)
			r, err := s.upload(context.Background(), fmt.Sprintf("burst-%d.png", i), data)
			switch {
			case err != nil:
				errs <- err
			case r.status != http.StatusCreated:
				errs <- fmt.Errorf("upload %d: status %d: %s", i, r.status, r.body)
			case r.up.Pushed:
				errs <- fmt.Errorf("upload %d: pushed already, though push_delay is an hour", i)
			}
			want[i] = digest(data)
		}()
	}
	wg.Wait()
	s.kill()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(mediaCounts(t, remote, "main")); got != 0 {
		t.Fatalf("remote has %d uploads before the restart; the test needs them unpushed", got)
	}
	if got := len(mediaCounts(t, s.repo, "main")); got != n {
		t.Fatalf("spano's clone has %d commits after the kill, want %d: a 201 was a lie", got, n)
	}

	s.start()
	eventually(t, 30*time.Second, func() string { return missing(t, remote, want) })
	for _, dir := range []string{remote, s.repo} {
		gittest.Fsck(t, dir)
		linear(t, dir, "main")
	}
}

// TestCrashDuringPush kills spano while the remote is in the middle of
// receiving its push (a pre-receive hook that sleeps), then restarts it
// either at once, racing the orphaned git receive-pack, or after the
// remote finished. Either way the remote ends consistent and holds every
// upload exactly once.
func TestCrashDuringPush(t *testing.T) {
	tests := []struct {
		name string
		// waitHook restarts only after the orphaned push completed on the
		// remote, so spano finds its commit already there.
		waitHook bool
	}{
		{name: "restart while the remote still receives", waitHook: false},
		{name: "restart after the remote took the push", waitHook: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			remote := gittest.NewRemote(t, nil)
			flags := t.TempDir()
			hook := fmt.Sprintf(`#!/bin/sh
cat >/dev/null
if [ -e %[1]s/slow ]; then
	touch %[1]s/started
	sleep 3
	touch %[1]s/done
fi
exit 0
`, flags)
			if err := os.WriteFile(filepath.Join(remote, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
				t.Fatal(err)
			}
			s := newSpano(t, "spano", options{remote: remote, push: "sync"})
			s.start()
			var want []string
			for i := range 2 {
				want = append(want, s.mustUpload("early.png", pngImage(200+i)).SHA256)
			}

			if err := os.WriteFile(filepath.Join(flags, "slow"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			data := pngImage(300)
			want = append(want, digest(data))
			posted := make(chan response, 1)
			go func() {
				r, _ := s.upload(context.Background(), "killed.png", data)
				posted <- r
			}()
			eventually(t, 20*time.Second, func() string {
				if _, err := os.Stat(filepath.Join(flags, "started")); err != nil {
					return "the push never reached the remote's hook"
				}
				return ""
			})
			s.kill()
			if r := <-posted; r.status != 0 {
				t.Errorf("the killed upload got an answer: %d %s", r.status, r.body)
			}
			os.Remove(filepath.Join(flags, "slow"))
			if tt.waitHook {
				eventually(t, 20*time.Second, func() string {
					if _, err := os.Stat(filepath.Join(flags, "done")); err != nil {
						return "the orphaned push's hook did not finish"
					}
					return ""
				})
				time.Sleep(500 * time.Millisecond) // receive-pack updates the ref after the hook
			}

			s.start()
			eventually(t, 60*time.Second, func() string {
				if why := missing(t, remote, want); why != "" {
					return why
				}
				head, tracked := gittest.Git(t, s.repo, "rev-parse", "main"), gittest.Git(t, s.repo, "rev-parse", "refs/remotes/origin/main")
				if head != tracked || head != gittest.Git(t, remote, "rev-parse", "main") {
					return fmt.Sprintf("spano's main %s, its origin/main %s, remote %s: not settled", head, tracked, gittest.Git(t, remote, "rev-parse", "main"))
				}
				return ""
			})
			after := s.mustUpload("after.png", pngImage(301))
			if !after.Pushed {
				t.Errorf("sync upload after the restart: pushed false")
			}
			want = append(want, after.SHA256)
			// The orphaned receive-pack may still be running: once it
			// ends, its stale update must not have moved the branch.
			eventually(t, 20*time.Second, func() string {
				if _, err := os.Stat(filepath.Join(flags, "done")); err != nil {
					return "the orphaned push's hook did not finish"
				}
				return ""
			})
			time.Sleep(500 * time.Millisecond)
			if why := missing(t, remote, want); why != "" {
				t.Error(why)
			}
			if got, want := gittest.Git(t, remote, "rev-parse", "main"), gittest.Git(t, s.repo, "rev-parse", "main"); got != want {
				t.Errorf("remote main %s after the orphaned push ended, spano's %s", got, want)
			}
			for _, dir := range []string{remote, s.repo} {
				gittest.Fsck(t, dir)
				linear(t, dir, "main")
			}
		})
	}
}
