package hashstore

import (
	"errors"
	"strings"
	"testing"
)

const testHash = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"

func TestPaths(t *testing.T) {
	tests := []struct {
		name         string
		mediaDir     string
		depth, width int
		wantPath     string
		wantThumb    string
		wantURLPath  string
	}{
		{"jekyll default", "media", 2, 2,
			"media/ab/cd/" + testHash + ".jpg",
			"media/ab/cd/" + testHash + "-320w.jpg",
			"ab/cd/" + testHash + ".jpg"},
		{"hugo default", "static/media", 2, 2,
			"static/media/ab/cd/" + testHash + ".jpg",
			"static/media/ab/cd/" + testHash + "-320w.jpg",
			"ab/cd/" + testHash + ".jpg"},
		{"depth 0", "media", 0, 0,
			"media/" + testHash + ".jpg",
			"media/" + testHash + "-320w.jpg",
			testHash + ".jpg"},
		{"depth 3 width 1", "media", 3, 1,
			"media/a/b/c/" + testHash + ".jpg",
			"media/a/b/c/" + testHash + "-320w.jpg",
			"a/b/c/" + testHash + ".jpg"},
		{"depth 1 width 4", "m", 1, 4,
			"m/abcd/" + testHash + ".jpg",
			"m/abcd/" + testHash + "-320w.jpg",
			"abcd/" + testHash + ".jpg"},
		{"repository root", "", 2, 2,
			"ab/cd/" + testHash + ".jpg",
			"ab/cd/" + testHash + "-320w.jpg",
			"ab/cd/" + testHash + ".jpg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t, func(o *Options) { o.MediaDir, o.Depth, o.Width = tt.mediaDir, tt.depth, tt.width })
			p := s.Path(testHash, "jpg")
			if got, want := p, tt.wantPath; got != want {
				t.Errorf("Path = %q, want %q", got, want)
			}
			if got, want := s.ThumbnailPath(testHash, 320, "jpg"), tt.wantThumb; got != want {
				t.Errorf("ThumbnailPath = %q, want %q", got, want)
			}
			if got, want := s.URLPath(p), tt.wantURLPath; got != want {
				t.Errorf("URLPath = %q, want %q", got, want)
			}
			// What Path and ThumbnailPath write, Parse reads back.
			ref, err := s.Parse(s.URLPath(p))
			if err != nil || ref != (Ref{SHA256: testHash, Ext: "jpg"}) {
				t.Errorf("Parse(URLPath(Path)) = %+v, %v", ref, err)
			}
			ref, err = s.Parse(s.URLPath(s.ThumbnailPath(testHash, 320, "png")))
			if err != nil || ref != (Ref{SHA256: testHash, Ext: "png", Width: 320}) {
				t.Errorf("Parse(URLPath(ThumbnailPath)) = %+v, %v", ref, err)
			}
		})
	}
}

func TestURLPathOutsideMedia(t *testing.T) {
	s, _ := newStore(t, func(o *Options) { o.MediaDir = "static/media" })
	for _, p := range []string{"", "static/mediafoo/ab/x.jpg", "media/ab/cd/x.jpg", "static/media", "_posts/2024-01-01-x.md"} {
		if got := s.URLPath(p); got != "" {
			t.Errorf("URLPath(%q) = %q, want \"\"", p, got)
		}
	}
}

func TestPathPanicsOnBadHash(t *testing.T) {
	s, _ := newStore(t, nil)
	for _, h := range []string{"", "abcd", strings.ToUpper(testHash), testHash + "0", "../" + testHash[3:]} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Path(%q) did not panic", h)
				}
			}()
			s.Path(h, "jpg")
		}()
	}
}

func TestParse(t *testing.T) {
	s, _ := newStore(t, nil) // depth 2, width 2
	const h = testHash
	tests := []struct {
		name string
		rel  string
		want Ref // zero = must fail with ErrBadPath
	}{
		{"original jpg", "ab/cd/" + h + ".jpg", Ref{h, "jpg", 0}},
		{"original m4a", "ab/cd/" + h + ".m4a", Ref{h, "m4a", 0}},
		{"original webm", "ab/cd/" + h + ".webm", Ref{h, "webm", 0}},
		{"thumbnail jpg", "ab/cd/" + h + "-320w.jpg", Ref{h, "jpg", 320}},
		{"thumbnail png", "ab/cd/" + h + "-1280w.png", Ref{h, "png", 1280}},
		{"thumbnail width 1", "ab/cd/" + h + "-1w.png", Ref{h, "png", 1}},
		{"thumbnail largest width", "ab/cd/" + h + "-65535w.png", Ref{h, "png", 65535}},

		{"empty", "", Ref{}},
		{"wrong first shard", "ac/cd/" + h + ".jpg", Ref{}},
		{"wrong second shard", "ab/ce/" + h + ".jpg", Ref{}},
		{"shards swapped", "cd/ab/" + h + ".jpg", Ref{}},
		{"missing shard", "ab/" + h + ".jpg", Ref{}},
		{"no shards", h + ".jpg", Ref{}},
		{"extra shard", "ab/cd/ef/" + h + ".jpg", Ref{}},
		{"leading slash", "/ab/cd/" + h + ".jpg", Ref{}},
		{"trailing slash", "ab/cd/" + h + ".jpg/", Ref{}},
		{"double slash", "ab//cd/" + h + ".jpg", Ref{}},
		{"dot segment", "ab/./" + h + ".jpg", Ref{}},
		{"dot-dot", "ab/cd/../cd/" + h + ".jpg", Ref{}},
		{"dot-dot as shard", "../cd/" + h + ".jpg", Ref{}},
		{"backslash", `ab\cd\` + h + ".jpg", Ref{}},
		{"uppercase hash", "AB/CD/" + strings.ToUpper(h) + ".jpg", Ref{}},
		{"uppercase shard only", "AB/cd/" + h + ".jpg", Ref{}},
		{"uppercase ext", "ab/cd/" + h + ".JPG", Ref{}},
		{"short hash", "ab/cd/" + h[:63] + ".jpg", Ref{}},
		{"long hash", "ab/cd/" + h + "0.jpg", Ref{}},
		{"non-hex hash", "ab/cd/" + h[:63] + "g.jpg", Ref{}},
		{"no ext", "ab/cd/" + h, Ref{}},
		{"empty ext", "ab/cd/" + h + ".", Ref{}},
		{"unknown ext", "ab/cd/" + h + ".svg", Ref{}},
		{"jpeg spelled out", "ab/cd/" + h + ".jpeg", Ref{}},
		{"double ext", "ab/cd/" + h + ".jpg.html", Ref{}},
		{"ext with query", "ab/cd/" + h + ".jpg?x=1", Ref{}},
		{"nul byte", "ab/cd/" + h + ".jpg\x00", Ref{}},
		{"thumbnail leading zero", "ab/cd/" + h + "-0320w.jpg", Ref{}},
		{"thumbnail width 0", "ab/cd/" + h + "-0w.jpg", Ref{}},
		{"thumbnail huge width", "ab/cd/" + h + "-65536w.jpg", Ref{}},
		{"thumbnail overflowing width", "ab/cd/" + h + "-99999999999999999999w.jpg", Ref{}},
		{"thumbnail negative width", "ab/cd/" + h + "--320w.jpg", Ref{}},
		{"thumbnail plus sign", "ab/cd/" + h + "-+320w.jpg", Ref{}},
		{"thumbnail no digits", "ab/cd/" + h + "-w.jpg", Ref{}},
		{"thumbnail no w", "ab/cd/" + h + "-320.jpg", Ref{}},
		{"thumbnail uppercase W", "ab/cd/" + h + "-320W.jpg", Ref{}},
		{"thumbnail double suffix", "ab/cd/" + h + "-320w-640w.jpg", Ref{}},
		{"thumbnail empty suffix", "ab/cd/" + h + "-.jpg", Ref{}},
		{"thumbnail of a video ext", "ab/cd/" + h + "-320w.mp4", Ref{}},
		{"thumbnail space", "ab/cd/" + h + "-320w .jpg", Ref{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Parse(tt.rel)
			if tt.want == (Ref{}) {
				if !errors.Is(err, ErrBadPath) {
					t.Errorf("Parse(%q) = %+v, %v; want ErrBadPath", tt.rel, got, err)
				}
				if got != (Ref{}) {
					t.Errorf("Parse(%q) returned %+v with its error", tt.rel, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.rel, err)
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.rel, got, tt.want)
			}
		})
	}
}

func TestParseDepth0(t *testing.T) {
	s, _ := newStore(t, func(o *Options) { o.Depth, o.Width = 0, 0 })
	if got, err := s.Parse(testHash + ".gif"); err != nil || got != (Ref{testHash, "gif", 0}) {
		t.Errorf("Parse = %+v, %v", got, err)
	}
	if _, err := s.Parse("ab/cd/" + testHash + ".gif"); !errors.Is(err, ErrBadPath) {
		t.Errorf("Parse with shards at depth 0: err = %v, want ErrBadPath", err)
	}
}
