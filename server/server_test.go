package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"spano/ingest"
	"spano/internal/gittest"
	"spano/internal/safebuf"
	"spano/objstore"
	"spano/record"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"spano/hashstore"
	"spano/heic"
	"spano/hooks"
	"spano/index"
	"spano/indieauth"
	"spano/repo"
	"spano/thumbs"
	"spano/video"
)

// Tokens the test verifier accepts, and one it does not.
const (
	goodToken    = "good-token-with-media-scope"
	deleteToken  = "token-with-only-delete-scope"
	unknownToken = "unknown-token"
	siteURL      = "https://example.com"
	testMaxSize  = 5 << 20
)

// env is a running spano server on a real repository that pushes to a
// bare remote, both in t.TempDir().
type env struct {
	t      *testing.T
	srv    *httptest.Server
	repo   *repo.Repo
	index  *index.Index
	remote string
	data   string // temp dirs for the hashstore and thumbs
	logs   *safebuf.Buffer
	layout record.Layout
	// spooler guards the spool when envOptions.spool is set.
	spooler *Spooler
}

// envOptions change the defaults of newEnv.
type envOptions struct {
	push        repo.PushMode
	origins     []string
	hooks       *hooks.Runner
	widths      []int
	serve       bool
	maxPixels   int64
	repoOptions func(*repo.Options)
	metrics     *Metrics            // nil: counted, not exported
	gatherer    prometheus.Gatherer // non-nil: served at /metrics
	verifier    Verifier            // nil: the static test tokens
	records     bool                // write record files under _data
	maxFileSize int64               // repo.max_file_size; 0: none
	spool       *SpoolOptions       // non-nil: a Spooler with these options
	live        Live                // answers q=source's live; nil: none
	converter   *heic.Converter     // HEIC/HEIF to JPEG; nil: refused
	video       video.Options       // how videos are read; FFmpeg "": no posters
	types       []string            // media.types; nil: envTypes
}

// envTypes are the media types newEnv accepts unless told otherwise.
var envTypes = []string{"image/jpeg", "image/png", "image/gif", "video/mp4", "audio/mpeg"}

func newEnv(t *testing.T, opt envOptions) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, remote: filepath.Join(dir, "remote.git"), data: filepath.Join(dir, "data"), logs: &safebuf.Buffer{}}
	seedRemote(t, e.remote)

	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opt.push == "" {
		opt.push = repo.PushSync
	}
	ro := repo.Options{
		Path: filepath.Join(e.data, "site.git"), Remote: e.remote, Branch: "main", Push: opt.push,
		AuthorName: "spano", AuthorEmail: "spano@localhost", Logger: log,
		PushAttempts: 2, Backoff: func(int) time.Duration { return time.Millisecond },
	}
	if opt.repoOptions != nil {
		opt.repoOptions(&ro)
	}
	if opt.types == nil {
		opt.types = envTypes
	}
	store, err := hashstore.New(hashstore.Options{
		TempDir: filepath.Join(e.data, "tmp"), MaxSize: testMaxSize,
		Types:    opt.types,
		MediaDir: "media", Depth: 2, Width: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	layout := record.Layout{Store: store, SiteURL: siteURL + "/media"}
	if opt.records {
		layout.DataDir = "_data"
	}
	e.index = index.New(index.Options{Store: store, MediaDir: "media", Layout: layout, Logger: log})
	notify := ro.Notify
	ro.Notify = func(n repo.Notice) {
		e.index.Apply(n)
		if notify != nil {
			notify(n)
		}
	}
	r, err := repo.Open(context.Background(), ro)
	if err != nil {
		t.Fatalf("open repo: %v", err)
	}
	e.repo = r
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Close(ctx)
	})
	if err := e.index.Load(context.Background(), r); err != nil {
		t.Fatalf("load index: %v", err)
	}
	if opt.widths == nil {
		opt.widths = []int{320, 640, 1280}
	}
	if opt.maxPixels == 0 {
		opt.maxPixels = 50_000_000
	}
	if err := os.MkdirAll(filepath.Join(e.data, "tmp", "thumbs"), 0o700); err != nil {
		t.Fatal(err)
	}
	maker, err := thumbs.New(thumbs.Options{Widths: opt.widths, MaxPixels: opt.maxPixels})
	if err != nil {
		t.Fatal(err)
	}
	verifier := opt.verifier
	if verifier == nil {
		verifier, err = indieauth.New(context.Background(), indieauth.Options{
			Me: siteURL + "/",
			Static: []indieauth.StaticToken{
				{SHA256: digest(goodToken), Scope: "media create"},
				{SHA256: digest(deleteToken), Scope: "delete"},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if opt.origins == nil {
		opt.origins = []string{"*"}
	}
	var hk ingest.Hooks
	var notifier Hooks
	if opt.hooks != nil {
		hk, notifier = opt.hooks, opt.hooks
	}
	pipeline, err := ingest.New(ingest.Options{
		Store: store, Repo: r, Layout: layout, Images: maker, Hooks: hk, Index: e.index,
		StripGPS: true, Records: opt.records, Rule: objstore.Rule{MaxFileSize: opt.maxFileSize},
		Converter: opt.converter, Video: opt.video,
		TempDir: filepath.Join(e.data, "tmp", "thumbs"), Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.layout = layout
	if opt.spool != nil {
		e.spooler = NewSpooler(pipeline.Spool, *opt.spool)
	}
	h := New(Options{
		Verifier: verifier, Repo: r, Pipeline: pipeline, Layout: layout, Hooks: notifier, Index: e.index, Spooler: e.spooler,
		BaseURL: "https://media.example.com", EndpointPath: "/micropub/media",
		MediaURLPath: "/media", MaxSize: testMaxSize,
		Scopes: []string{"media", "create"}, DeleteScopes: []string{"delete"}, Serve: opt.serve,
		CORSOrigins: opt.origins, Logger: log, Metrics: opt.metrics, Gatherer: opt.gatherer,
		Live: opt.live,
	})
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs)
		}
	})
	return e
}

func digest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// seedRemote makes a bare remote holding a site with one commit, as a
// real site repository would have.
func seedRemote(t *testing.T, remote string) {
	t.Helper()
	work := filepath.Join(filepath.Dir(remote), "seed")
	gittest.Git(t, "", "init", "-q", "--bare", "-b", "main", remote)
	gittest.Git(t, "", "init", "-q", "-b", "main", work)
	if err := os.WriteFile(filepath.Join(work, "index.md"), []byte("# My site\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, work, "add", "index.md")
	gittest.Git(t, work, "commit", "-q", "-m", "Initial site")
	gittest.Git(t, work, "push", "-q", remote, "main")
}

// remoteCommits counts the commits on the remote's main.
func (e *env) remoteCommits() string {
	return gittest.Git(e.t, e.remote, "rev-list", "--count", "main")
}

// localHead is the head of spano's own clone.
func (e *env) localHead() string {
	h, err := e.repo.Head(context.Background())
	if err != nil {
		e.t.Fatalf("head: %v", err)
	}
	return h
}

// remoteFiles lists every file on the remote's main.
func (e *env) remoteFiles() []string {
	out := gittest.Git(e.t, e.remote, "ls-tree", "-r", "--name-only", "main")
	return strings.Split(out, "\n")
}

// unchanged records the state of both repositories and checks, when
// called, that nothing was committed or pushed meanwhile.
func (e *env) unchanged() func() {
	e.t.Helper()
	local, remote := e.localHead(), gittest.Git(e.t, e.remote, "rev-parse", "main")
	return func() {
		e.t.Helper()
		if got := e.localHead(); got != local {
			e.t.Errorf("local head moved from %s to %s: something was committed", local, got)
		}
		if got := gittest.Git(e.t, e.remote, "rev-parse", "main"); got != remote {
			e.t.Errorf("remote head moved from %s to %s: something was pushed", remote, got)
		}
	}
}

// part is one part of a multipart body.
type part struct {
	name, filename string
	content        []byte
}

// multipartBody encodes parts and returns the body and its content type.
func multipartBody(t *testing.T, parts ...part) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		disp := `form-data; name="` + p.name + `"`
		if p.filename != "" {
			disp += `; filename="` + strings.ReplaceAll(p.filename, `"`, `\"`) + `"`
			h.Set("Content-Type", "application/octet-stream")
		}
		h.Set("Content-Disposition", disp)
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(p.content); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

// post sends body to the endpoint with the given token in the
// Authorization header ("" for none).
func (e *env) post(token string, body []byte, contentType string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/micropub/media", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.do(req)
}

// upload sends one file part named file.
func (e *env) upload(token, filename string, content []byte) *http.Response {
	e.t.Helper()
	body, ct := multipartBody(e.t, part{name: "file", filename: filename, content: content})
	return e.post(token, body, ct)
}

func (e *env) do(req *http.Request) *http.Response {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// decode reads a JSON body into v and closes it.
func decode(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
}

// wantError checks a Micropub error response.
func wantError(t *testing.T, resp *http.Response, status int, code string) errorBody {
	t.Helper()
	if resp.StatusCode != status {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, status, b)
	}
	if got, want := resp.Header.Get("Content-Type"), "application/json"; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
	var body errorBody
	decode(t, resp, &body)
	if body.Error != code {
		t.Errorf("error = %q, want %q (description %q)", body.Error, code, body.Description)
	}
	if body.Description == "" {
		t.Errorf("error_description is empty")
	}
	return body
}

// Test images, made fresh for each run so that each has its own hash.

func noisyRGBA(rng *rand.Rand, w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(rng.UintN(256))
	}
	return img
}

func makeJPEG(t *testing.T, seed uint64, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, noisyRGBA(rand.New(rand.NewPCG(seed, 1)), w, h), &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func makePNG(t *testing.T, seed uint64, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, noisyRGBA(rand.New(rand.NewPCG(seed, 2)), w, h)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// makeGIF makes an animated GIF of noisy frames, which LZW cannot
// compress: about w×h bytes per frame.
func makeGIF(t *testing.T, seed uint64, w, h, frames int) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 3))
	anim := &gif.GIF{}
	for range frames {
		img := image.NewPaletted(image.Rect(0, 0, w, h), palette.Plan9)
		for i := range img.Pix {
			img.Pix[i] = byte(rng.UintN(256))
		}
		anim.Image = append(anim.Image, img)
		anim.Delay = append(anim.Delay, 10)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, anim); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// makeTinyPNG makes a distinct small PNG (no thumbnails: narrower than
// every width) cheaply, for tests that need many files.
func makeTinyPNG(t *testing.T, n int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 8, 8))
	img.Set(0, 0, color.NRGBA{R: byte(n), G: byte(n >> 8), B: byte(n >> 16), A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// vetoHooks is a hooks runner with one upload hook that rejects every file.
func vetoHooks(t *testing.T) *hooks.Runner {
	t.Helper()
	r, err := hooks.New([]hooks.Hook{{
		Name: "scan", Events: []string{hooks.EventUpload},
		Command: []string{"sh", "-c", "echo 'virus found' >&2; exit 1"},
	}}, hooks.Options{Env: os.Environ()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

// spooled lists the files left in the temp folders of the hashstore and
// thumbnails.
func spooled(t *testing.T, e *env) []string {
	t.Helper()
	var left []string
	err := filepath.WalkDir(filepath.Join(e.data, "tmp"), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			left = append(left, path)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return left
}

func rename(from, to string) error { return os.Rename(from, to) }
