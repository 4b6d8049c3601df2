package live

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"spano/internal/gittest"
)

// gitSite is a static site host that deploys a git remote's main branch
// a while after each push, as GitHub Pages or Netlify do, and serves the
// files of the deployed commit.
type gitSite struct {
	remote string
	srv    *httptest.Server

	mu       sync.Mutex
	deployed string               // the commit served; "" before the first deploy
	at       map[string]time.Time // commit → when it went out
}

func newGitSite(t *testing.T, remote string, delay time.Duration) *gitSite {
	s := &gitSite{remote: remote, at: map[string]time.Time{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done; s.srv.Close() })
	go func() {
		defer close(done)
		s.deployLoop(ctx, delay)
	}()
	return s
}

// deployLoop notices a new head of main and deploys it after delay.
func (s *gitSite) deployLoop(ctx context.Context, delay time.Duration) {
	seen := ""
	for ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
		out, err := gittest.Run(s.remote, "rev-parse", "main")
		head := strings.TrimSpace(out)
		if err != nil || head == seen {
			continue
		}
		seen = head
		time.AfterFunc(delay, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.deployed, s.at[head] = head, time.Now()
		})
	}
}

func (s *gitSite) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	commit := s.deployed
	s.mu.Unlock()
	if commit == "" {
		http.NotFound(w, r)
		return
	}
	cmd := exec.Command("git", "--git-dir", s.remote, "show", commit+":"+strings.TrimPrefix(r.URL.Path, "/"))
	b, err := cmd.Output()
	if err != nil {
		http.NotFound(w, r)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}

func (s *gitSite) deployedAt(commit string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.at[commit]
	return at, ok
}

// push commits a media file to the remote as spano would and returns the
// upload and its commit.
func push(t *testing.T, work, siteURL string, content []byte) (Item, string) {
	t.Helper()
	s := sha256.Sum256(content)
	h := hex.EncodeToString(s[:])
	rel := "media/" + h[:2] + "/" + h[2:4] + "/" + h + ".jpg"
	full := filepath.Join(work, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, content, 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, work, "add", "-A")
	gittest.Git(t, work, "commit", "-q", "-m", "Add "+h[:12]+".jpg")
	gittest.Git(t, work, "push", "-q", "origin", "HEAD:main")
	committed, err := time.Parse(time.RFC3339, gittest.Git(t, work, "log", "-1", "--format=%cI"))
	if err != nil {
		t.Fatal(err)
	}
	return Item{SHA256: h, URL: siteURL + "/" + rel, Size: int64(len(content)), Committed: committed},
		gittest.Git(t, work, "rev-parse", "HEAD")
}

// TestDeployFromGit pushes uploads to a real bare remote that a site
// deploys a while after each push: each is published once, only after
// the deploy of its commit, across a restart of the checker in between.
func TestDeployFromGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("the git CLI stands in for spano's push here and is not installed: %v", err)
	}
	remote := gittest.NewRemote(t, nil)
	work := filepath.Join(t.TempDir(), "work")
	gittest.Git(t, filepath.Dir(work), "clone", "-q", remote, work)
	site := newGitSite(t, remote, 600*time.Millisecond)
	reg := prometheus.NewRegistry()
	state := filepath.Join(t.TempDir(), "live.json")
	events := make(chan event, 10)
	opts := Options{
		StateFile: state, Allowed: []string{site.srv.URL + "/media"}, Timeout: 20 * time.Second,
		FirstDelay: 50 * time.Millisecond, MaxDelay: 150 * time.Millisecond,
		Client: site.srv.Client(), Registerer: reg,
		OnLive: func(it Item, d time.Duration) { events <- event{it, d, time.Now()} },
	}

	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	first, firstCommit := push(t, work, site.srv.URL, []byte("the first upload's bytes"))
	if err := c.Watch(first); err != nil {
		t.Fatal(err)
	}
	// spano restarts before the site deploys.
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := site.deployedAt(firstCommit); ok {
		t.Skip("the machine is too slow: the site deployed before the restart")
	}
	c = newChecker(t, opts)
	second, secondCommit := push(t, work, site.srv.URL, []byte("the second upload, a little longer"))
	if err := c.Watch(second); err != nil {
		t.Fatal(err)
	}

	got := waitEvents(t, events, 2)
	commits := map[string]string{first.SHA256: firstCommit, second.SHA256: secondCommit}
	for _, e := range got {
		at, ok := site.deployedAt(commits[e.item.SHA256])
		if !ok || e.at.Before(at) {
			t.Errorf("%s published at %v, before its commit was deployed (%v)", e.item.URL, e.at, at)
		}
		if e.d < at.Sub(e.item.Committed)-time.Second {
			t.Errorf("%s: %v from commit to live, less than the deploy took", e.item.URL, e.d)
		}
	}
	if got[0].item.SHA256 == got[1].item.SHA256 {
		t.Error("one upload published twice, the other never")
	}
	if n := histogramCount(t, reg, "spano_publish_seconds"); n != 2 {
		t.Errorf("spano_publish_seconds counted %d, want 2", n)
	}
	st, err := Load(state)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Live(first.SHA256) || !st.Live(second.SHA256) {
		t.Error("the state file does not hold both uploads live")
	}
}
