package index

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"spano/internal/gittest"
	"spano/internal/testphoto"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"spano/repo"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// byHand commits files (path → bytes; nil bytes delete the path) to the
// bare repository at bare with the git CLI, as a person would: no
// trailers.
func byHand(t *testing.T, bare string, files map[string][]byte, msg string) {
	t.Helper()
	work := filepath.Join(t.TempDir(), "work")
	gittest.Git(t, filepath.Dir(work), "clone", "-q", bare, work)
	gittest.Git(t, work, "checkout", "-q", "-B", "main")
	for p, b := range files {
		full := filepath.Join(work, filepath.FromSlash(p))
		if b == nil {
			gittest.Git(t, work, "rm", "-q", p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
		gittest.Git(t, work, "add", p)
	}
	gittest.Git(t, work, "commit", "-q", "-m", msg)
	gittest.Git(t, work, "push", "-q", "origin", "HEAD:main")
}

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	img.Set(1, 1, color.NRGBA{R: 200, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLoadSeeded(t *testing.T) {
	s := newStore(t)
	bare, media := seed(t, s, 30, t0)
	x, _ := load(t, s, repo.Options{Path: bare})
	if got, want := x.Len(), 30; got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
	items := all(t, x)
	for i, it := range items {
		if got, want := it.Path, media[29-i].path; got != want {
			t.Fatalf("item %d = %s, want %s (newest first)", i, got, want)
		}
	}
	newest := media[29]
	want := Item{
		Path: newest.path, SHA256: newest.sha, Ext: "jpg", Type: "image/jpeg",
		Size: int64(len(newest.content)), Width: 4000, Height: 3000,
		Published: t0.Add(29 * time.Second), Client: "https://quill.p3k.io/", Filename: "IMG_29.jpg",
		Storage: "repo", Commit: gittest.Git(t, bare, "rev-parse", "main"),
		Trailers: []repo.Trailer{
			{Key: "Media-SHA256", Value: newest.sha}, {Key: "Media-Type", Value: "image/jpeg"},
			{Key: "Media-Size", Value: "9"}, {Key: "Media-Width", Value: "4000"}, {Key: "Media-Height", Value: "3000"},
			{Key: "Media-Client", Value: "https://quill.p3k.io/"}, {Key: "Media-Filename", Value: "IMG_29.jpg"},
		},
		Thumbnails: []Thumbnail{{Path: newest.thumbs[0], Type: "image/jpeg", Width: 320, Height: 240}, {Path: newest.thumbs[1], Type: "image/jpeg", Width: 640, Height: 480}},
	}
	if diff := cmp.Diff(items[0], want, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("newest item (-got +want):\n%s", diff)
	}
	got, ok, err := x.Get(context.Background(), media[3].path)
	if err != nil || !ok || got.Filename != "IMG_3.jpg" {
		t.Errorf("Get(%s) = %+v, %v, %v", media[3].path, got, ok, err)
	}
	if _, ok, _ := x.Get(context.Background(), "media/00/00/nothing.jpg"); ok {
		t.Error("Get of an unknown path found something")
	}
}

func TestLoadEmpty(t *testing.T) {
	s := newStore(t)
	x, _ := load(t, s, repo.Options{})
	if got := x.Len(); got != 0 {
		t.Errorf("Len = %d", got)
	}
	if _, ok, err := x.Latest(context.Background()); ok || err != nil {
		t.Errorf("Latest on an empty branch: %v, %v", ok, err)
	}
}

// A history with deletes, re-uploads and commits by hand: the index is
// what the branch holds, dated by the commit that last added each file.
func TestLoadHistory(t *testing.T) {
	s := newStore(t)
	bare, media := seed(t, s, 4, t0)
	// Spano deletes media[1] and re-uploads media[0], then a person adds
	// a PNG, a stray file and a badly named one without trailers.
	r := openRepo(t, repo.Options{Path: bare, Now: func() time.Time { return t0.Add(time.Hour) }})
	remove(t, r, media[1])
	remove(t, r, media[0])
	upload(t, r, media[0], 40, 30)
	r.Close(context.Background())
	pic := newMedia(s, string(pngBytes(t, 30, 20)), "png")
	byHand(t, bare, map[string][]byte{
		pic.path:                pic.content,
		"media/README.md":       []byte("not media\n"),
		"media/ab/cd/photo.jpg": []byte("not content-addressed\n"),
		"index.md":              []byte("# site\n"),
		media[2].thumbs[0]:      nil, // a thumbnail removed by hand
	}, "Add a picture by hand")

	x, _ := load(t, s, repo.Options{Path: bare})
	items := all(t, x)
	if diff := cmp.Diff(paths(items), []string{pic.path, media[0].path, media[3].path, media[2].path}); diff != "" {
		t.Fatalf("items (-got +want):\n%s", diff)
	}
	if got, want := items[1].Published, t0.Add(time.Hour); !got.Equal(want) {
		t.Errorf("re-uploaded item published %v, want the re-upload's %v", got, want)
	}
	hand := items[0]
	if hand.Type != "image/png" || hand.Size != int64(len(pic.content)) || hand.Client != "" || len(hand.Trailers) != 0 {
		t.Errorf("item added by hand = %+v", hand)
	}
	if got, want := [2]int{hand.Width, hand.Height}, [2]int{30, 20}; got != want {
		t.Errorf("size of an image without trailers = %v, want %v (probed)", got, want)
	}
	if got := items[3].Thumbnails; len(got) != 1 || got[0].Width != 640 {
		t.Errorf("thumbnails after one was removed by hand = %+v", got)
	}
}

// JPEGs committed by hand report the size they are shown at: an EXIF
// orientation that turns the picture a quarter swaps width and height,
// as spano's own Media-Width and Media-Height do.
func TestProbeOrientation(t *testing.T) {
	s := newStore(t)
	bare, _ := seed(t, s, 1, t0)
	var plain bytes.Buffer
	if err := jpeg.Encode(&plain, image.NewGray(image.Rect(0, 0, 30, 20)), nil); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int{}
	files := map[string][]byte{}
	for _, tt := range []struct {
		orientation int
		want        [2]int
	}{{0, [2]int{30, 20}}, {3, [2]int{30, 20}}, {6, [2]int{20, 30}}, {8, [2]int{20, 30}}} {
		b := plain.Bytes()
		if tt.orientation > 0 {
			b = testphoto.WithSegment(b, 0xe1, testphoto.EXIFOrientation(tt.orientation, binary.LittleEndian))
		}
		m := newMedia(s, string(b), "jpg")
		files[m.path], want[m.path] = b, tt.want
	}
	byHand(t, bare, files, "Add photos by hand")

	x, _ := load(t, s, repo.Options{Path: bare})
	for _, it := range all(t, x) {
		if w, ok := want[it.Path]; ok && [2]int{it.Width, it.Height} != w {
			t.Errorf("%s: %dx%d, want %dx%d", it.Path, it.Width, it.Height, w[0], w[1])
		}
		delete(want, it.Path)
	}
	if len(want) > 0 {
		t.Errorf("not in the index: %v", want)
	}
}

// Uploads made within one second keep their commit order, at start-up
// and afterwards.
func TestSameSecondOrder(t *testing.T) {
	s := newStore(t)
	dir := t.TempDir()
	bare := filepath.Join(dir, "site.git")
	gittest.Git(t, dir, "init", "-q", "--bare", "-b", "main", bare)
	clock := func() time.Time { return t0 }
	var media []fakeMedia
	r := openRepo(t, repo.Options{Path: bare, Now: clock})
	for _, c := range []string{"c", "a", "b", "e", "d"} {
		m := newMedia(s, c, "jpg")
		media = append(media, m)
		upload(t, r, m, 10, 10)
	}
	r.Close(context.Background())
	want := []string{media[4].path, media[3].path, media[2].path, media[1].path, media[0].path}

	x, r := load(t, s, repo.Options{Path: bare, Now: clock})
	if diff := cmp.Diff(paths(all(t, x)), want); diff != "" {
		t.Fatalf("after Load (-got +want):\n%s", diff)
	}
	m := newMedia(s, "f", "jpg")
	upload(t, r, m, 10, 10)
	if diff := cmp.Diff(paths(all(t, x)), append([]string{m.path}, want...)); diff != "" {
		t.Fatalf("after an upload in the same second (-got +want):\n%s", diff)
	}
}

// Commits made here reach the index before Commit returns.
func TestApplyCommitted(t *testing.T) {
	s := newStore(t)
	x, r := load(t, s, repo.Options{})
	a := newMedia(s, "a", "jpg", 320)
	b := newMedia(s, "b", "png", 320)
	upload(t, r, a, 1000, 500)
	upload(t, r, b, 640, 640)
	if diff := cmp.Diff(paths(all(t, x)), []string{b.path, a.path}); diff != "" {
		t.Fatalf("after uploads (-got +want):\n%s", diff)
	}
	it, _, _ := x.Get(context.Background(), a.path)
	if diff := cmp.Diff(it.Thumbnails, []Thumbnail{{Path: a.thumbs[0], Type: "image/jpeg", Width: 320, Height: 160}}); diff != "" {
		t.Errorf("thumbnails (-got +want):\n%s", diff)
	}

	remove(t, r, a)
	if diff := cmp.Diff(paths(all(t, x)), []string{b.path}); diff != "" {
		t.Fatalf("after delete (-got +want):\n%s", diff)
	}
	if _, ok, _ := x.Get(context.Background(), a.path); ok {
		t.Error("a deleted file is still found")
	}

	upload(t, r, a, 1000, 500)
	if diff := cmp.Diff(paths(all(t, x)), []string{a.path, b.path}); diff != "" {
		t.Fatalf("after re-upload (-got +want):\n%s", diff)
	}
	it, _, _ = x.Get(context.Background(), a.path)
	if len(it.Thumbnails) != 1 {
		t.Errorf("re-uploaded item's thumbnails = %+v", it.Thumbnails)
	}
}

// Notices that arrive before Load are applied after it.
func TestNoticesBeforeLoad(t *testing.T) {
	s := newStore(t)
	path := filepath.Join(t.TempDir(), "clone.git")
	x := New(Options{Store: s, MediaDir: "media"})
	r := openRepo(t, repo.Options{Path: path, Notify: x.Apply})
	a, b := newMedia(s, "a", "jpg"), newMedia(s, "b", "jpg")
	upload(t, r, a, 1, 1)
	upload(t, r, b, 1, 1)
	remove(t, r, a)
	if got := x.Len(); got != 0 {
		t.Fatalf("Len before Load = %d", got)
	}
	if x.Unknown(a.path, a.sha) {
		t.Error("Unknown before Load: the index knows nothing yet, so nothing is unknown to it")
	}
	if err := x.Load(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(paths(all(t, x)), []string{b.path}); diff != "" {
		t.Fatalf("after Load (-got +want):\n%s", diff)
	}
	c := newMedia(s, "c", "jpg")
	for _, tt := range []struct {
		m    fakeMedia
		path string
		want bool
	}{
		{m: a, path: a.path, want: true},  // deleted
		{m: b, path: b.path, want: false}, // at head
		{m: b, path: s.Path(b.sha, "png"), want: false},
		{m: c, path: b.path, want: false},
		{m: c, path: c.path, want: true},
	} {
		if got := x.Unknown(tt.path, tt.m.sha); got != tt.want {
			t.Errorf("Unknown(%s, %.8s) = %v, want %v", tt.path, tt.m.sha, got, tt.want)
		}
	}
}

// Media committed elsewhere (by hand, without trailers) and fetched
// before a push reach the index; so do deletions made elsewhere.
func TestApplyFetched(t *testing.T) {
	s := newStore(t)
	dir := t.TempDir()
	remote := filepath.Join(dir, "site.git")
	gittest.Git(t, dir, "init", "-q", "--bare", "-b", "main", remote)
	byHand(t, remote, map[string][]byte{"index.md": []byte("# site\n")}, "Start")

	// spano's clock runs an hour ahead of the person's, so that its
	// upload is newer than theirs, not in the same second.
	later := func() time.Time { return time.Now().Add(time.Hour) }
	x, r := load(t, s, repo.Options{Remote: remote, Push: repo.PushSync, Now: later})
	old := newMedia(s, "old", "jpg", 320)
	upload(t, r, old, 640, 480)

	pic := newMedia(s, string(pngBytes(t, 8, 6)), "png")
	byHand(t, remote, map[string][]byte{pic.path: pic.content, old.path: nil, old.thumbs[0]: nil}, "Add a picture, drop the old one")
	if x.Len() != 1 {
		t.Fatal("the index changed before any fetch")
	}
	mine := newMedia(s, "mine", "jpg")
	if res := upload(t, r, mine, 1, 1); !res.Pushed {
		t.Fatalf("upload not pushed: %+v", res)
	}
	items := all(t, x)
	if diff := cmp.Diff(paths(items), []string{mine.path, pic.path}); diff != "" {
		t.Fatalf("after the fetch (-got +want):\n%s", diff)
	}
	if got := items[1]; got.Size != int64(len(pic.content)) || got.Type != "image/png" || got.Width != 8 || got.Height != 6 {
		t.Errorf("fetched item = %+v", got)
	}
	// mine was re-applied onto the person's commit: the item names the
	// commit on the branch, not the one first made, once the push's
	// notice is applied (the sync upload may return just before).
	want := gittest.Git(t, remote, "rev-parse", "main")
	for deadline := time.Now().Add(5 * time.Second); items[0].Commit != want && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		items = all(t, x)
	}
	if got := items[0].Commit; got != want {
		t.Errorf("re-applied item's commit = %s, want the pushed %s", got, want)
	}
	if got, want := items[1].Commit, gittest.Git(t, remote, "rev-parse", "main~1"); got != want {
		t.Errorf("fetched item's commit = %s, want %s", got, want)
	}
}

func TestBadCursor(t *testing.T) {
	s := newStore(t)
	bare, _ := seed(t, s, 3, t0)
	x, _ := load(t, s, repo.Options{Path: bare})
	for _, c := range []string{"!!!", "bm90IGEgY3Vyc29y", encode("12 media/README.md"), encode("x media/aa/bb/c.jpg")} {
		if _, err := x.Page(context.Background(), Query{After: c}); !errors.Is(err, ErrBadCursor) {
			t.Errorf("Page(after=%q) = %v, want ErrBadCursor", c, err)
		}
	}
}
