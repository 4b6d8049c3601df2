//go:build integration

package integration

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"spano/internal/gittest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// clients is how many uploaders hit spano at once during an outage.
const clients = 20

// outage is how long the remote stays away after the uploads; longer
// outages grow spano's push backoff (1 s doubling to 1 min), so the time
// to recover grows with it.
var outage = flag.Duration("outage", 2*time.Second, "how long the remote stays away in the outage tests")

// writer is someone else working on the site repository with the git
// CLI in their own clone: the commits spano must never push away.
type writer struct {
	dir string
	n   int
}

func newWriter(t *testing.T, remote string) *writer {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "other")
	gittest.Git(t, t.TempDir(), "clone", "-q", remote, dir)
	return &writer{dir: dir}
}

// commit adds a post and pushes it to remote (which may be the remote's
// temporary name during an outage), pulling with rebase when spano got
// there first. It returns the pushed commit.
func (w *writer) commit(remote string) (string, error) {
	w.n++
	name := fmt.Sprintf("_posts/2024-01-01-post-%d.md", w.n)
	if err := os.MkdirAll(filepath.Join(w.dir, "_posts"), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(w.dir, name), []byte(fmt.Sprintf("post %d\n", w.n)), 0o644); err != nil {
		return "", err
	}
	if out, err := gittest.Run(w.dir, "add", name); err != nil {
		return "", fmt.Errorf("add: %v: %s", err, out)
	}
	if out, err := gittest.Run(w.dir, "commit", "-q", "-m", "Post "+strconv.Itoa(w.n)); err != nil {
		return "", fmt.Errorf("commit: %v: %s", err, out)
	}
	for try := 0; try < 50; try++ {
		out, err := gittest.Run(w.dir, "push", "-q", remote, "HEAD:main")
		if err == nil {
			head, err := gittest.Run(w.dir, "rev-parse", "HEAD")
			return strings.TrimSpace(head), err
		}
		if pulled, err := gittest.Run(w.dir, "pull", "-q", "--rebase", remote, "main"); err != nil {
			return "", fmt.Errorf("pull --rebase after a refused push (%s): %v: %s", strings.TrimSpace(out), err, pulled)
		}
	}
	return "", fmt.Errorf("post %d: no push after 50 tries", w.n)
}

// burst has n clients upload one new PNG each at once, from seed on, and
// returns their answers and hashes.
func burst(s *spano, n, seed int) ([]response, []string, []error) {
	resps, hashes, errs := make([]response, n), make([]string, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := pngImage(seed + i)
			hashes[i] = digest(data)
			resps[i], errs[i] = s.upload(context.Background(), fmt.Sprintf("client-%d.png", i), data)
		}()
	}
	wg.Wait()
	return resps, hashes, errs
}

// TestOutageAsync takes the remote away while 20 clients upload in async
// mode: every upload gets its 201, none is lost, all are pushed once the
// remote is back, and a commit someone else pushed meanwhile is kept (no
// force push).
func TestOutageAsync(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	s := newSpano(t, "spano", options{remote: remote, push: "async"})
	s.start()
	want := []string{s.mustUpload("before.png", pngImage(1)).SHA256}
	eventually(t, 10*time.Second, func() string { return missing(t, remote, want) })

	away := remote + ".away"
	if err := os.Rename(remote, away); err != nil {
		t.Fatal(err)
	}
	foreign, err := newWriter(t, away).commit(away)
	if err != nil {
		t.Fatal(err)
	}

	resps, hashes, errs := burst(s, clients, 1000)
	for i := range clients {
		if errs[i] != nil || resps[i].status != http.StatusCreated {
			t.Errorf("client %d during the outage: %v, status %d: %s", i, errs[i], resps[i].status, resps[i].body)
		}
	}
	want = append(want, hashes...)
	if got := len(mediaCounts(t, s.repo, "main")); got != len(want) {
		t.Errorf("spano's clone holds %d uploads, want %d", got, len(want))
	}
	time.Sleep(*outage) // failed rounds meanwhile grow the backoff

	if err := os.Rename(away, remote); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	eventually(t, 100*time.Second, func() string { return missing(t, remote, want) })
	t.Logf("all %d uploads on the remote %s after it came back", len(want), time.Since(back).Round(100*time.Millisecond))
	if !isAncestor(t, remote, foreign, "main") {
		t.Errorf("the commit pushed by someone else during the outage (%s) is gone: a force push", foreign)
	}
	for _, dir := range []string{remote, s.repo} {
		gittest.Fsck(t, dir)
		linear(t, dir, "main")
	}
}

// TestOutageSync takes the remote away in sync mode: uploads get 503 with
// Retry-After; after the remote returns, each client's retry of the same
// bytes gets 201 with the same URL, and every file is on the remote once.
func TestOutageSync(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	s := newSpano(t, "spano", options{remote: remote, push: "sync"})
	s.start()
	want := []string{s.mustUpload("before.png", pngImage(1)).SHA256}

	away := remote + ".away"
	if err := os.Rename(remote, away); err != nil {
		t.Fatal(err)
	}
	foreign, err := newWriter(t, away).commit(away)
	if err != nil {
		t.Fatal(err)
	}

	resps, hashes, errs := burst(s, clients, 2000)
	for i := range clients {
		switch {
		case errs[i] != nil:
			t.Errorf("client %d during the outage: %v", i, errs[i])
		case resps[i].status != http.StatusServiceUnavailable:
			t.Errorf("client %d during the outage: status %d, want 503: %s", i, resps[i].status, resps[i].body)
		case resps[i].retryAfter == "":
			t.Errorf("client %d: 503 without Retry-After", i)
		}
	}
	want = append(want, hashes...)
	time.Sleep(*outage)

	if err := os.Rename(away, remote); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	// Each client retries its own bytes, once a second rather than after
	// Retry-After's 30 s, to keep the suite short.
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := pngImage(2000 + i)
			deadline := time.Now().Add(100 * time.Second)
			for {
				r, err := s.upload(context.Background(), fmt.Sprintf("client-%d.png", i), data)
				if err == nil && r.status == http.StatusCreated {
					if !r.up.Pushed {
						t.Errorf("client %d: sync 201 with pushed false", i)
					}
					return
				}
				if time.Now().After(deadline) {
					t.Errorf("client %d: no 201 within 100 s of the remote's return: %v, status %d: %s", i, err, r.status, r.body)
					return
				}
				time.Sleep(time.Second)
			}
		}()
	}
	wg.Wait()
	t.Logf("every client's retry got 201 %s after the remote came back", time.Since(back).Round(100*time.Millisecond))
	if why := missing(t, remote, want); why != "" {
		t.Error(why)
	}
	if !isAncestor(t, remote, foreign, "main") {
		t.Errorf("the commit pushed by someone else during the outage (%s) is gone: a force push", foreign)
	}
	for _, dir := range []string{remote, s.repo} {
		gittest.Fsck(t, dir)
		linear(t, dir, "main")
	}
}
