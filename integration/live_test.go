//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"spano/internal/gittest"
	"spano/internal/s3test"
)

// deploySite stands in for the site's host (GitHub Pages, Netlify): it
// watches the bare remote's main and, delay after each push, "deploys"
// it, serving the files of that commit at their paths (media/… at
// /media/…) with their real sizes, HEAD and Range included. With never
// set it sees the pushes but never deploys, as a broken build does.
type deploySite struct {
	t      *testing.T
	remote string
	delay  time.Duration
	never  bool
	srv    *httptest.Server
	done   chan struct{}

	mu       sync.Mutex
	deployed string // the commit served; "" before the first deploy
	deploys  []deploy
}

// deploy is one deploy: the commit the site serves from then on.
type deploy struct {
	commit string
	at     time.Time
}

func newDeploySite(t *testing.T, remote string, delay time.Duration, never bool) *deploySite {
	d := &deploySite{t: t, remote: remote, delay: delay, never: never, done: make(chan struct{})}
	d.srv = httptest.NewServer(http.HandlerFunc(d.serve))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); d.watch() }()
	t.Cleanup(func() { close(d.done); wg.Wait(); d.srv.Close() })
	return d
}

// watch polls the remote's branch and schedules a deploy of each new head.
func (d *deploySite) watch() {
	seen := ""
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-d.done:
			return
		case <-tick.C:
		}
		out, err := gittest.Run(d.remote, "rev-parse", "main")
		head := strings.TrimSpace(out)
		if err != nil || head == seen {
			continue
		}
		seen = head
		if d.never {
			continue
		}
		time.AfterFunc(d.delay, func() {
			d.mu.Lock()
			defer d.mu.Unlock()
			d.deployed = head
			d.deploys = append(d.deploys, deploy{commit: head, at: time.Now()})
		})
	}
}

// serve answers from the deployed commit, like a static host.
func (d *deploySite) serve(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	commit := d.deployed
	d.mu.Unlock()
	p := strings.TrimPrefix(r.URL.Path, "/")
	if commit == "" || p == "" || strings.Contains(p, "..") {
		http.NotFound(w, r)
		return
	}
	b, err := exec.Command("git", "-C", d.remote, "cat-file", "blob", commit+":"+p).Output()
	if err != nil {
		http.NotFound(w, r)
		return
	}
	http.ServeContent(w, r, p, time.Time{}, bytes.NewReader(b))
}

// deployedAt is when the site first served a commit holding commit c.
func (d *deploySite) deployedAt(c string) (time.Time, bool) {
	d.mu.Lock()
	deploys := append([]deploy(nil), d.deploys...)
	d.mu.Unlock()
	for _, dep := range deploys {
		if isAncestor(d.t, d.remote, c, dep.commit) {
			return dep.at, true
		}
	}
	return time.Time{}, false
}

// publishedHook is a command hook on the published event that appends
// "<sha256> <unix nanoseconds>" to file, and the events it wrote.
func publishedHook(file string) string {
	script := fmt.Sprintf(`echo "$SPANO_SHA256 $(date +%%s%%N)" >> %s`, file)
	return fmt.Sprintf("  - name: published\n    events: [published]\n    command: [\"sh\", \"-c\", %q]\n", script)
}

// hookEvent is one line publishedHook wrote.
type hookEvent struct {
	sha256 string
	at     time.Time
}

func readEvents(t testing.TB, file string) []hookEvent {
	t.Helper()
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []hookEvent
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		ns, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			t.Fatalf("hook line %q: %v", line, err)
		}
		out = append(out, hookEvent{sha256: f[0], at: time.Unix(0, ns)})
	}
	return out
}

// metric reads one sample of spano's /metrics, or "" when it is absent.
func (s *spano) metric(name string) string {
	s.t.Helper()
	resp, err := http.Get(s.url("/metrics"))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// TestLiveCheck: a site that deploys the remote's branch a few seconds
// after each push. The published hook event arrives once per upload,
// after the deploy that carried it and not before; an upload whose
// spano restarted before its deploy is still found live; the histogram
// counts each.
func TestLiveCheck(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	site := newDeploySite(t, remote, 3*time.Second, false)
	events := filepath.Join(t.TempDir(), "published")
	s := newSpano(t, "live", options{remote: remote, site: site.srv.URL, checkLive: true,
		liveTimeout: "2m", hooks: publishedHook(events)})
	s.start()

	first := s.mustUpload("one.png", pngImage(101))
	second := s.mustUpload("two.png", pngImage(102))
	// A restart before the deploy: the live state is in data_dir.
	s.stop()
	s.start()
	ups := []uploaded{first, second}

	eventually(t, 90*time.Second, func() string {
		if n := len(readEvents(t, events)); n < len(ups) {
			return fmt.Sprintf("%d published events, want %d", n, len(ups))
		}
		return ""
	})
	time.Sleep(2 * time.Second) // any second event would come within a poll
	got := readEvents(t, events)
	if len(got) != len(ups) {
		t.Errorf("%d published events, want one per upload: %+v", len(got), got)
	}
	for _, up := range ups {
		n := 0
		for _, ev := range got {
			if ev.sha256 != up.SHA256 {
				continue
			}
			n++
			at, ok := site.deployedAt(up.Commit)
			if !ok || ev.at.Before(at) {
				t.Errorf("%s published at %s, before its deploy (%s, deployed %v)", up.SHA256[:12], ev.at.Format(time.StampMilli), at.Format(time.StampMilli), ok)
			}
		}
		if n != 1 {
			t.Errorf("%s: %d published events, want 1", up.SHA256[:12], n)
		}
	}
	if !strings.Contains(s.log.String(), `msg="resumed live checks"`) {
		t.Errorf("the restarted spano did not resume the pending live checks")
	}
	// The restart lost the first run's metrics; the second run counts
	// what it saw become live.
	if c := s.metric("spano_publish_seconds_count"); c == "" || c == "0" {
		t.Errorf("spano_publish_seconds_count = %q, want the uploads found live since the restart", c)
	}
}

// TestLiveCheckGivesUp: a site that never deploys. The live check gives
// up after site.live_timeout, logs it, counts it, and no published event
// is sent.
func TestLiveCheckGivesUp(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	site := newDeploySite(t, remote, 0, true)
	events := filepath.Join(t.TempDir(), "published")
	s := newSpano(t, "never-live", options{remote: remote, site: site.srv.URL, checkLive: true,
		liveTimeout: "7s", hooks: publishedHook(events)})
	s.start()
	start := time.Now()
	up := s.mustUpload("never.png", pngImage(103))
	eventually(t, 30*time.Second, func() string {
		if !strings.Contains(s.log.String(), "gave up waiting for the site to serve an upload") {
			return "no give-up in the log"
		}
		return ""
	})
	if took := time.Since(start); took < 7*time.Second {
		t.Errorf("gave up after %s, before live_timeout 7s", took)
	}
	if !strings.Contains(s.log.String(), up.SHA256) {
		t.Errorf("the give-up does not name the upload")
	}
	if g := s.metric("spano_live_gave_up_total"); g != "1" {
		t.Errorf("spano_live_gave_up_total = %q, want 1", g)
	}
	if c := s.metric("spano_publish_seconds_count"); c != "0" {
		t.Errorf("spano_publish_seconds_count = %q, want 0", c)
	}
	if ev := readEvents(t, events); len(ev) != 0 {
		t.Errorf("published events from a site that never deployed: %+v", ev)
	}
}

// bucketSite serves the bucket's objects under /media/, as a bucket's
// public domain or a CDN in front of it does.
func bucketSite(t *testing.T, srv *s3test.Server) *httptest.Server {
	h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, "/")
		obj, err := srv.Client.GetObject(r.Context(), srv.Bucket, key, minio.GetObjectOptions{})
		if err == nil {
			var info minio.ObjectInfo
			if info, err = obj.Stat(); err == nil {
				defer obj.Close()
				w.Header().Set("Content-Type", info.ContentType)
				http.ServeContent(w, r, key, info.LastModified, obj)
				return
			}
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(h.Close)
	return h
}

// TestLiveCheckOffloaded: an offloaded upload is live when
// storage.s3.public_url serves it.
func TestLiveCheckOffloaded(t *testing.T) {
	srv := s3test.Start(t)
	remote := gittest.NewRemote(t, nil)
	site := newDeploySite(t, remote, time.Second, false)
	cdn := bucketSite(t, srv)
	events := filepath.Join(t.TempDir(), "published")
	s := newSpano(t, "live-s3", options{remote: remote, site: site.srv.URL, checkLive: true, liveTimeout: "1m",
		s3: srv, publicURL: cdn.URL + "/media", hooks: publishedHook(events)})
	s.start()
	clip := writeVideo(t, t.TempDir(), "clip.mp4", 1<<20, 21)
	up := s.mustUploadFile("clip.mp4", clip)
	if up.Storage != "s3" || !strings.HasPrefix(up.URL, cdn.URL+"/media/") {
		t.Fatalf("201 storage %q url %q, want s3 under %s", up.Storage, up.URL, cdn.URL)
	}
	eventually(t, 40*time.Second, func() string {
		for _, ev := range readEvents(t, events) {
			if ev.sha256 == up.SHA256 {
				return ""
			}
		}
		return "no published event for the offloaded upload"
	})
	if c := s.metric("spano_publish_seconds_count"); c != "1" {
		t.Errorf("spano_publish_seconds_count = %q, want 1", c)
	}
}
