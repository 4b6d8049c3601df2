package index

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"spano/internal/gittest"
	"strings"
	"testing"
	"time"

	"spano/hashstore"
	"spano/repo"
)

func newStore(t testing.TB) *hashstore.Store {
	t.Helper()
	s, err := hashstore.New(hashstore.Options{TempDir: t.TempDir(), MaxSize: 1 << 20, MediaDir: "media", Depth: 2, Width: 2})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func openRepo(t testing.TB, opts repo.Options) *repo.Repo {
	t.Helper()
	if opts.Path == "" {
		opts.Path = filepath.Join(t.TempDir(), "clone.git")
	}
	if opts.Backoff == nil {
		opts.Backoff = func(int) time.Duration { return 10 * time.Millisecond }
	}
	r, err := repo.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("open repository: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Close(ctx)
	})
	return r
}

// fakeMedia is an upload as spano would commit it: the bytes, their hash
// and the paths of the original and its thumbnails.
type fakeMedia struct {
	content []byte
	sha     string
	path    string
	thumbs  []string
}

func newMedia(s *hashstore.Store, content string, ext string, thumbWidths ...int) fakeMedia {
	sum := sha256.Sum256([]byte(content))
	h := hex.EncodeToString(sum[:])
	m := fakeMedia{content: []byte(content), sha: h, path: s.Path(h, ext)}
	for _, w := range thumbWidths {
		m.thumbs = append(m.thumbs, s.ThumbnailPath(h, w, "jpg"))
	}
	return m
}

// seed writes a bare repository whose main branch has one commit per
// upload, as spano makes them (original, two thumbnails, trailers), with
// git fast-import: the tests measure the index, not the seeding. The
// commits are one second apart from t0.
func seed(t testing.TB, s *hashstore.Store, n int, t0 time.Time) (string, []fakeMedia) {
	t.Helper()
	dir := t.TempDir()
	bare := filepath.Join(dir, "seed.git")
	gittest.Git(t, dir, "init", "-q", "--bare", "-b", "main", bare)
	var in strings.Builder
	all := make([]fakeMedia, n)
	for i := range n {
		m := newMedia(s, fmt.Sprintf("photo %d\n", i), "jpg", 320, 640)
		all[i] = m
		msg := fmt.Sprintf("Add %s.jpg (IMG_%d.jpg)\n\nMedia-SHA256: %s\nMedia-Type: image/jpeg\nMedia-Size: %d\nMedia-Width: 4000\nMedia-Height: 3000\nMedia-Client: https://quill.p3k.io/\nMedia-Filename: IMG_%d.jpg\n",
			m.sha[:12], i, m.sha, len(m.content), i)
		when := t0.Add(time.Duration(i) * time.Second).Unix()
		fmt.Fprintf(&in, "commit refs/heads/main\nauthor spano <spano@localhost> %d +0000\ncommitter spano <spano@localhost> %d +0000\ndata %d\n%s", when, when, len(msg), msg)
		fmt.Fprintf(&in, "M 100644 inline %s\ndata %d\n%s\n", m.path, len(m.content), m.content)
		for _, p := range m.thumbs {
			fmt.Fprintf(&in, "M 100644 inline %s\ndata 5\nthumb\n", p)
		}
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = bare
	cmd.Stdin = strings.NewReader(in.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fast-import: %v\n%s", err, out)
	}
	return bare, all
}

// upload commits m as spano's server does: original and thumbnails in
// one commit, with trailers.
func upload(t testing.TB, r *repo.Repo, m fakeMedia, width, height int) repo.Result {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ext := filepath.Ext(m.path)[1:]
	typ, _ := hashstore.TypeFor(ext)
	c := repo.Change{
		Add: []repo.Blob{{Path: m.path, File: write("orig", m.content)}},
		Message: repo.Message{Subject: "Add " + m.sha[:12] + "." + ext + " (photo." + ext + ")", Trailers: []repo.Trailer{
			{Key: "Media-SHA256", Value: m.sha}, {Key: "Media-Type", Value: typ},
			{Key: "Media-Size", Value: fmt.Sprint(len(m.content))},
			{Key: "Media-Width", Value: fmt.Sprint(width)}, {Key: "Media-Height", Value: fmt.Sprint(height)},
			{Key: "Media-Client", Value: "https://client.example/"},
			{Key: "Media-Filename", Value: "photo." + ext},
		}},
	}
	for i, p := range m.thumbs {
		c.Add = append(c.Add, repo.Blob{Path: p, File: write(fmt.Sprint("thumb", i), []byte(p))})
	}
	res, err := r.Commit(context.Background(), c)
	if err != nil {
		t.Fatalf("upload %s: %v", m.path, err)
	}
	return res
}

// remove deletes m and its thumbnails in one commit, as spano's delete
// does.
func remove(t testing.TB, r *repo.Repo, m fakeMedia) {
	t.Helper()
	c := repo.Change{
		Delete: append([]string{m.path}, m.thumbs...),
		Message: repo.Message{Subject: "Delete " + m.sha[:12] + filepath.Ext(m.path), Trailers: []repo.Trailer{
			{Key: "Media-SHA256", Value: m.sha}, {Key: "Media-Type", Value: "image/jpeg"},
		}},
	}
	if _, err := r.Commit(context.Background(), c); err != nil {
		t.Fatalf("delete %s: %v", m.path, err)
	}
}

// load opens the repository at path with the index wired into its
// notices, and loads the index.
func load(t testing.TB, s *hashstore.Store, opts repo.Options) (*Index, *repo.Repo) {
	t.Helper()
	if opts.Path == "" {
		opts.Path = filepath.Join(t.TempDir(), "clone.git")
	}
	x := New(Options{Store: s, MediaDir: "media"})
	opts.Notify = x.Apply
	r := openRepo(t, opts)
	if err := x.Load(context.Background(), r); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return x, r
}

// paths returns the paths of a page's items.
func paths(items []Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Path
	}
	return out
}

// all returns every item, newest first.
func all(t testing.TB, x *Index) []Item {
	t.Helper()
	p, err := x.Page(context.Background(), Query{Limit: MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return p.Items
}
