package hashstore

import (
	"errors"
	"sync"
	"testing"
)

// FuzzParse reads arbitrary paths, as they arrive in serve and delete
// URLs, with several shard layouts. Parse must not panic, must refuse with
// ErrBadPath, and must accept exactly the names Path and ThumbnailPath
// write: what it accepts, written back, is the same string.
func FuzzParse(f *testing.F) {
	for _, seed := range []struct {
		rel          string
		depth, width uint8
	}{
		{"ab/cd/" + testHash + ".jpg", 2, 2},
		{"ab/cd/" + testHash + "-320w.jpg", 2, 2},
		{"ab/cd/" + testHash + "-65535w.png", 2, 2},
		{"ab/cd/" + testHash + "-65536w.png", 2, 2},
		{"ab/cd/" + testHash + "-0320w.png", 2, 2},
		{"ab/cd/" + testHash + "-320w.webp", 2, 2},
		{"ab/cd/" + testHash + ".JPG", 2, 2},
		{"AB/CD/" + testHash + ".jpg", 2, 2},
		{"ab/ce/" + testHash + ".jpg", 2, 2},
		{"ab//cd/" + testHash + ".jpg", 2, 2},
		{"../cd/" + testHash + ".jpg", 2, 2},
		{testHash + ".mp4", 0, 0},
		{"a/b/c/" + testHash + ".ogg", 3, 1},
		{"abcd/" + testHash + ".tar.gz", 1, 4},
		{"ab/cd/" + testHash + "-w.png", 2, 2},
		{"ab/cd/" + testHash + "--1w.png", 2, 2},
		{"", 2, 2},
	} {
		f.Add(seed.rel, seed.depth, seed.width)
	}
	tmp := f.TempDir()
	var mu sync.Mutex
	stores := map[[2]int]*Store{}
	f.Fuzz(func(t *testing.T, rel string, depth, width uint8) {
		d := int(depth) % (maxDepth + 1)
		w := 1 + int(width)%maxWidth
		if d*w > 32 { // New refuses shards using more than half the hash
			return
		}
		mu.Lock()
		s, ok := stores[[2]int{d, w}]
		if !ok {
			var err error
			if s, err = New(Options{TempDir: tmp, MaxSize: 1, MediaDir: "media", Depth: d, Width: w}); err != nil {
				mu.Unlock()
				t.Fatalf("New(depth %d, width %d): %v", d, w, err)
			}
			stores[[2]int{d, w}] = s
		}
		mu.Unlock()
		ref, err := s.Parse(rel)
		if err != nil {
			if !errors.Is(err, ErrBadPath) {
				t.Fatalf("Parse(%q): %v, not ErrBadPath", rel, err)
			}
			return
		}
		var p string
		if ref.Width == 0 {
			p = s.Path(ref.SHA256, ref.Ext)
		} else {
			p = s.ThumbnailPath(ref.SHA256, ref.Width, ref.Ext)
		}
		if got := s.URLPath(p); got != rel {
			t.Fatalf("Parse(%q) = %+v, written back %q", rel, ref, got)
		}
	})
}
