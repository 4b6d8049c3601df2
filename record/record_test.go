package record

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"spano/hashstore"
	"spano/repo"
)

const hash = "ab" + "cd" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"

func layout(t *testing.T) Layout {
	t.Helper()
	s, err := hashstore.New(hashstore.Options{TempDir: t.TempDir(), MaxSize: 1, MediaDir: "media", Depth: 2, Width: 2})
	if err != nil {
		t.Fatal(err)
	}
	return Layout{Store: s, DataDir: "_data", SiteURL: "https://example.com/media", ObjectURL: "https://cdn.example.com/media"}
}

func photo() Record {
	return Record{
		URL: "https://example.com/media/ab/cd/" + hash + ".jpg", Path: "media/ab/cd/" + hash + ".jpg",
		SHA256: hash, Type: "image/jpeg", Size: 123456, Width: 4000, Height: 3000,
		Published: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), Storage: StorageRepo,
		Filename: "IMG_0001.jpg", Client: "https://quill.p3k.io/",
		Variants: []Variant{{URL: "https://example.com/media/ab/cd/" + hash + "-320w.jpg",
			Path: "media/ab/cd/" + hash + "-320w.jpg", Type: "image/jpeg", Width: 320, Height: 240}},
	}
}

// TestMessageRoundTrip: what the commit says of an upload reads back as
// the same facts.
func TestMessageRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*Record)
	}{
		{"photo", func(*Record) {}},
		{"video offloaded", func(r *Record) {
			r.Type, r.Storage, r.Duration, r.Width, r.Height = "video/mp4", StorageS3, 12.48, 1080, 1920
		}},
		{"heic published as jpeg", func(r *Record) { r.SourceType, r.SourceSHA256 = "image/heic", strings.Repeat("e", 64) }},
		{"no filename, no client", func(r *Record) { r.Filename, r.Client = "", "" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := photo()
			tt.edit(&want)
			m := repo.ParseMessage(want.Message().String())
			got, ok := FromMessage(m)
			if !ok {
				t.Fatalf("FromMessage(%q) found no upload", m.String())
			}
			// A message carries the facts, not the URLs, path, time or variants.
			want.URL, want.Path, want.Published, want.Variants = "", "", time.Time{}, nil
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("round trip (-got +want):\n%s", diff)
			}
		})
	}
}

func TestSubject(t *testing.T) {
	r := photo()
	if got, want := r.Message().Subject, "Add abcd01234567.jpg (IMG_0001.jpg)"; got != want {
		t.Errorf("subject = %q, want %q", got, want)
	}
	if got, want := r.DeleteMessage().Subject, "Delete abcd01234567.jpg"; got != want {
		t.Errorf("delete subject = %q, want %q", got, want)
	}
	// A filename cannot forge a trailer.
	r.Filename = "x.jpg\nMedia-SHA256: " + strings.Repeat("0", 64)
	got, _ := FromMessage(repo.ParseMessage(r.Message().String()))
	if got.SHA256 != hash {
		t.Errorf("a filename changed the hash to %s", got.SHA256)
	}
}

func TestJSON(t *testing.T) {
	want := photo()
	got, err := Parse(want.JSON())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("JSON round trip (-got +want):\n%s", diff)
	}
	if !strings.HasSuffix(string(want.JSON()), "}\n") {
		t.Error("record file does not end with a newline")
	}
	for name, b := range map[string]string{
		"not json":    "{",
		"bad hash":    `{"sha256":"AB","type":"image/jpeg","path":"x.jpg","storage":"repo"}`,
		"no type":     `{"sha256":"` + hash + `","path":"x.jpg","storage":"repo"}`,
		"bad storage": `{"sha256":"` + hash + `","type":"image/jpeg","path":"x.jpg","storage":"ftp"}`,
	} {
		if _, err := Parse([]byte(b)); err == nil {
			t.Errorf("%s: Parse accepted %s", name, b)
		}
	}
}

func TestLayout(t *testing.T) {
	l := layout(t)
	orig := "media/ab/cd/" + hash + ".jpg"
	if got, want := l.URL(orig, StorageRepo), "https://example.com/media/ab/cd/"+hash+".jpg"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	if got, want := l.URL(orig, StorageS3), "https://cdn.example.com/media/ab/cd/"+hash+".jpg"; got != want {
		t.Errorf("offloaded URL = %q, want %q", got, want)
	}
	if got := l.URL("_data/spano/x.json", StorageRepo); got != "" {
		t.Errorf("URL of a path outside media = %q", got)
	}
	for _, u := range []string{l.URL(orig, StorageRepo), l.URL(orig, StorageS3)} {
		if got, ok := l.PathOf(u); !ok || got != orig {
			t.Errorf("PathOf(%q) = %q, %v; want %q", u, got, ok, orig)
		}
	}
	for _, u := range []string{
		"https://example.com/media/ab/cd/" + hash + "-320w.jpg", // a thumbnail
		"https://evil.example/media/ab/cd/" + hash + ".jpg",
		"https://example.com/media/../media/ab/cd/" + hash + ".jpg",
	} {
		if got, ok := l.PathOf(u); ok {
			t.Errorf("PathOf(%q) = %q, want no original", u, got)
		}
	}
	rp := l.RecordPath(hash)
	if want := "_data/spano/ab/cd/" + hash + ".json"; rp != want {
		t.Errorf("RecordPath = %q, want %q", rp, want)
	}
	if got, ok := l.RecordHash(rp); !ok || got != hash {
		t.Errorf("RecordHash(%q) = %q, %v", rp, got, ok)
	}
	for _, p := range []string{"_data/spano/ab/" + hash + ".json", "_data/spano/ab/cd/" + hash + ".txt", "_data/other/ab/cd/" + hash + ".json"} {
		if _, ok := l.RecordHash(p); ok {
			t.Errorf("RecordHash(%q) took it for a record", p)
		}
	}
	if (Layout{Store: l.Store}).RecordPath(hash) != "" {
		t.Error("records off, but a record path")
	}
}

// TestFromCommit: trailers describe a file only when they name its hash.
func TestFromCommit(t *testing.T) {
	l := layout(t)
	r := photo()
	path := "media/ab/cd/" + hash + ".jpg"
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	got, ok := FromCommit(repo.CommitInfo{Message: r.Message(), Time: at}, l, path)
	if !ok || got.Size != r.Size || got.Filename != r.Filename || !got.Published.Equal(at) || got.URL != r.URL {
		t.Errorf("FromCommit = %+v, %v", got, ok)
	}
	other := strings.Repeat("f", 64)
	got, ok = FromCommit(repo.CommitInfo{Message: r.Message(), Time: at}, l, "media/ff/ff/"+other+".png")
	if !ok || got.SHA256 != other || got.Type != "image/png" || got.Size != -1 || got.Filename != "" {
		t.Errorf("FromCommit of a file the trailers do not name = %+v, %v", got, ok)
	}
	if _, ok := FromCommit(repo.CommitInfo{Message: r.Message()}, l, "media/ab/cd/"+hash+"-320w.jpg"); ok {
		t.Error("FromCommit took a thumbnail for an original")
	}
	if got := Original(l, repo.CommitInfo{}, []string{"media/ab/cd/" + hash + "-320w.jpg", path, "README.md"}); got != path {
		t.Errorf("Original = %q, want %q", got, path)
	}
}
