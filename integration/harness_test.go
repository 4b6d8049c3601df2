//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"spano/internal/gittest"
	"spano/internal/s3test"
	"spano/internal/safebuf"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// spanoBin is the binary under test, built once by TestMain.
var spanoBin string

var showLogs = flag.Bool("spano.logs", false, "print every spano's log, not only those of failed tests")

// token is the static token every spano of the suite accepts.
const (
	token   = "integration-suite-token"
	siteURL = "https://example.com"
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	if _, err := exec.LookPath("git"); err != nil {
		fmt.Fprintln(os.Stderr, "integration: the git CLI is needed:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "spano-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	spanoBin = filepath.Join(dir, "spano")
	build := exec.Command("go", "build", "-o", spanoBin, "spano/cmd/spano")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "integration: build spano:", err)
		return 1
	}
	return m.Run()
}

// options shape one spano's config file.
type options struct {
	remote    string // bare repository path
	push      string // sync | async
	pushDelay string // e.g. "0s", "1h"
	generator string // jekyll (default) | hugo
	widths    []int  // thumbnail widths; nil means none
	maxSize   string // media.max_size; "" means 50MB
	maxFile   string // repo.max_file_size; "" means 100MB
	keepGPS   bool   // media.strip_gps: false

	// s3 is the object storage (storage.s3) and offload its selection;
	// nil: no object storage.
	s3           *s3test.Server
	publicURL    string   // storage.s3.public_url; "" means s3PublicURL
	offloadMin   string   // storage.offload.min_size; "" means 20MB
	offloadTypes []string // storage.offload.types; nil means [video/*]
	ffmpeg       string   // video.ffmpeg; "" means none (no posters)
	site         string   // site.url; "" means siteURL
	noRecords    bool     // site.records: false
	checkLive    bool     // site.check_live
	liveTimeout  string   // site.live_timeout; "" means 30m
	hooks        string   // the hooks: list, as YAML lines; "" means none
}

// s3PublicURL is storage.s3.public_url unless a test sets its own.
const s3PublicURL = "https://cdn.example.com/media"

// spano is one spano serve process, restartable on the same config and
// data directory, as an operator's service manager would restart it.
type spano struct {
	t       *testing.T
	name    string
	config  string
	dataDir string
	repo    string // spano's own bare clone
	log     *safebuf.Buffer

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	endpoint string
}

// newSpano writes a config file for o in a temp dir. Nothing runs until
// start.
func newSpano(t *testing.T, name string, o options) *spano {
	t.Helper()
	dir := t.TempDir()
	s := &spano{t: t, name: name, config: filepath.Join(dir, "spano.yml"),
		dataDir: filepath.Join(dir, "data"), log: &safebuf.Buffer{}}
	s.repo = filepath.Join(s.dataDir, "site.git")
	if o.push == "" {
		o.push = "sync"
	}
	if o.pushDelay == "" {
		o.pushDelay = "0s"
	}
	if o.generator == "" {
		o.generator = "jekyll"
	}
	if o.maxSize == "" {
		o.maxSize = "50MB"
	}
	if o.maxFile == "" {
		o.maxFile = "100MB"
	}
	if o.site == "" {
		o.site = siteURL
	}
	if o.liveTimeout == "" {
		o.liveTimeout = "30m"
	}
	widths := make([]string, len(o.widths))
	for i, w := range o.widths {
		widths[i] = fmt.Sprint(w)
	}
	cfg := fmt.Sprintf(`listen: "127.0.0.1:0"
base_url: "http://127.0.0.1:8080"
data_dir: %q
site:
  url: %q
  generator: %s
  records: %v
  check_live: %v
  live_timeout: %q
repo:
  path: %q
  remote: %q
  branch: main
  push: %s
  push_delay: %q
  max_file_size: %q
media:
  max_size: %q
  strip_gps: %v
thumbnails:
  widths: [%s]
auth:
  me: "https://example.com/"
  discover: false
  tokens:
    - sha256: %q
      scope: "media delete"
video:
  ffmpeg: %q
log:
  level: debug
`, s.dataDir, o.site, o.generator, !o.noRecords, o.checkLive, o.liveTimeout,
		s.repo, o.remote, o.push, o.pushDelay, o.maxFile, o.maxSize, !o.keepGPS,
		strings.Join(widths, ", "), digest([]byte(token)), o.ffmpeg)
	cfg += storageConfig(o)
	if o.hooks != "" {
		cfg += "hooks:\n" + o.hooks
	}
	if err := os.WriteFile(s.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.kill()
		if *showLogs {
			t.Logf("log of %s:\n%s", s.name, s.log.String())
		} else if t.Failed() {
			t.Logf("log of %s (last 12 kB):\n%s", s.name, tail(s.log.String(), 12<<10))
		}
	})
	return s
}

// storageConfig is the storage: section of o, "" without object storage.
func storageConfig(o options) string {
	if o.s3 == nil {
		return ""
	}
	if o.publicURL == "" {
		o.publicURL = s3PublicURL
	}
	if o.offloadMin == "" {
		o.offloadMin = "20MB"
	}
	if o.offloadTypes == nil {
		o.offloadTypes = []string{"video/*"}
	}
	return fmt.Sprintf(`storage:
  s3:
    endpoint: %q
    region: %q
    bucket: %q
    prefix: media
    access_key: %q
    secret_key: %q
    public_url: %q
  offload:
    min_size: %q
    types: [%s]
`, o.s3.Endpoint, o.s3.Region, o.s3.Bucket, o.s3.AccessKey, o.s3.SecretKey, o.publicURL,
		o.offloadMin, strings.Join(o.offloadTypes, ", "))
}

var listening = regexp.MustCompile(`msg="spano listening" addr=([0-9.]+:[0-9]+)`)

// start runs spano serve and returns once it answers /healthz.
func (s *spano) start() {
	s.t.Helper()
	from := s.log.Len()
	fmt.Fprintf(s.log, "=== start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(spanoBin, "serve", "-config", s.config, "-listen", "127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", s.name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			s.t.Fatalf("%s exited at start:\n%s", s.name, s.log.String()[from:])
		default:
		}
		if m := listening.FindStringSubmatch(s.log.String()[from:]); m != nil {
			s.mu.Lock()
			s.endpoint = "http://" + m[1]
			s.mu.Unlock()
			if resp, err := http.Get(s.url("/healthz")); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("%s did not get ready:\n%s", s.name, s.log.String()[from:])
}

// kill sends SIGKILL, the crash a kernel OOM kill or a power cut looks
// like to the process, and waits for it to die. Children (a git
// receive-pack) live on, as they would.
func (s *spano) kill() { s.signal(syscall.SIGKILL) }

// stop sends SIGTERM and waits for the graceful shutdown.
func (s *spano) stop() { s.signal(syscall.SIGTERM) }

func (s *spano) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	fmt.Fprintf(s.log, "=== %s %s\n", sig, time.Now().Format(time.RFC3339Nano))
}

func (s *spano) url(path string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endpoint + path
}

// tmpFiles lists what is left in data_dir/tmp, the spool and thumbnail
// temp folders.
func (s *spano) tmpFiles() []string {
	s.t.Helper()
	var out []string
	root := filepath.Join(s.dataDir, "tmp")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			out = append(out, strings.TrimPrefix(p, root+"/"))
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		s.t.Fatal(err)
	}
	return out
}

// uploaded is spano's 201 body.
type uploaded struct {
	URL        string  `json:"url"`
	SHA256     string  `json:"sha256"`
	Type       string  `json:"type"`
	Size       int64   `json:"size"`
	Duplicate  bool    `json:"duplicate"`
	Commit     string  `json:"commit"`
	Pushed     bool    `json:"pushed"`
	Storage    string  `json:"storage"`
	Width      int     `json:"width"`
	Height     int     `json:"height"`
	Duration   float64 `json:"duration"`
	Poster     string  `json:"poster"`
	Thumbnails []struct {
		Width  int    `json:"width"`
		Height int    `json:"height"`
		URL    string `json:"url"`
		Type   string `json:"type"`
	} `json:"thumbnails"`
}

// response is one answer to an upload.
type response struct {
	status     int
	retryAfter string
	body       []byte
	up         uploaded
}

var client = &http.Client{Timeout: 3 * time.Minute}

// post uploads body (a multipart form with content type ct).
func (s *spano) post(ctx context.Context, ct string, body io.Reader) (response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url("/micropub/media"), body)
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	r := response{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: b}
	if r.status == http.StatusCreated {
		if err := json.Unmarshal(b, &r.up); err != nil {
			return r, fmt.Errorf("201 body %q: %w", b, err)
		}
		if loc := resp.Header.Get("Location"); loc != r.up.URL {
			return r, fmt.Errorf("Location %q, body url %q", loc, r.up.URL)
		}
	}
	return r, nil
}

// upload sends data as the file part named filename.
func (s *spano) upload(ctx context.Context, filename string, data []byte) (response, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, err := mw.CreateFormFile("file", filename)
	if err != nil {
		return response{}, err
	}
	w.Write(data)
	mw.Close()
	return s.post(ctx, mw.FormDataContentType(), &body)
}

// mustUpload uploads data and fails the test unless the answer is 201
// for these bytes.
func (s *spano) mustUpload(filename string, data []byte) uploaded {
	s.t.Helper()
	r, err := s.upload(context.Background(), filename, data)
	if err != nil {
		s.t.Fatalf("upload %s: %v", filename, err)
	}
	if r.status != http.StatusCreated {
		s.t.Fatalf("upload %s: status %d: %s", filename, r.status, r.body)
	}
	if got, want := r.up.SHA256, digest(data); got != want {
		s.t.Fatalf("upload %s: sha256 %s, want %s", filename, got, want)
	}
	return r.up
}

// pngImage is a small PNG whose pixels encode seed, so every seed gives
// different bytes and a different URL.
func pngImage(seed int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 24, 16))
	for i := range img.Pix {
		img.Pix[i] = byte(seed>>(8*(i%4))) ^ byte(i*31)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// jpegImage is a w×h photo-like JPEG: gradients with seed mixed in.
func jpegImage(seed, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{byte(x * 255 / w), byte(y * 255 / h), byte(seed + x*y), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// mediaCounts counts, for each Media-SHA256 trailer on branch ref of the
// repository at dir, the commits that carry it.
func mediaCounts(t testing.TB, dir, ref string) map[string]int {
	t.Helper()
	out := gittest.Git(t, dir, "log", "--format=%B%x00", ref)
	counts := map[string]int{}
	for _, msg := range strings.Split(out, "\x00") {
		for _, line := range strings.Split(msg, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Media-SHA256: "); ok {
				counts[v]++
			}
		}
	}
	return counts
}

// files lists the paths on branch ref of the repository at dir.
func files(t testing.TB, dir, ref string) map[string]bool {
	t.Helper()
	set := map[string]bool{}
	for _, p := range strings.Split(gittest.Git(t, dir, "ls-tree", "-r", "--name-only", ref), "\n") {
		if p != "" {
			set[p] = true
		}
	}
	return set
}

// linear fails unless branch ref of dir has no merge commits.
func linear(t testing.TB, dir, ref string) {
	t.Helper()
	if got := gittest.Git(t, dir, "rev-list", "--merges", "--count", ref); got != "0" {
		t.Errorf("%s %s has %s merge commits, want a linear history", dir, ref, got)
	}
}

// isAncestor reports whether commit is in the history of ref in dir:
// how the suite tells that nobody's commit was force-pushed away.
func isAncestor(t testing.TB, dir, commit, ref string) bool {
	t.Helper()
	_, err := gittest.Run(dir, "merge-base", "--is-ancestor", commit, ref)
	return err == nil
}

// repoPath is the repository path of a published URL, for the Jekyll
// layout (media.dir "media" at url_path "/media").
func repoPath(t testing.TB, mediaDir, u string) string {
	t.Helper()
	rel, ok := strings.CutPrefix(u, siteURL+"/media/")
	if !ok {
		t.Fatalf("URL %q is not under %s/media/", u, siteURL)
	}
	return mediaDir + "/" + rel
}

// eventually polls cond every 100 ms until it returns "" (done) or
// timeout passes; then the test fails with cond's last complaint.
func eventually(t testing.TB, timeout time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := cond()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// missing lists the wanted hashes the remote's branch does not carry, and
// those it carries more than once.
func missing(t testing.TB, remote string, want []string) string {
	t.Helper()
	counts := mediaCounts(t, remote, "main")
	var lost, twice []string
	for _, h := range want {
		switch counts[h] {
		case 0:
			lost = append(lost, h[:12])
		case 1:
		default:
			twice = append(twice, h[:12])
		}
	}
	if len(lost) == 0 && len(twice) == 0 {
		return ""
	}
	return fmt.Sprintf("remote lacks %d of %d uploads %v; has %d more than once %v", len(lost), len(want), lost, len(twice), twice)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
