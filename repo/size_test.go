package repo

import (
	"context"
	"log/slog"
	"os"
	"path"
	"strings"
	"testing"

	"spano/internal/gittest"
	"spano/internal/safebuf"
)

func TestMediaBytes(t *testing.T) {
	r := open(t, Options{})
	ctx := context.Background()
	if got, err := r.MediaBytes(ctx, ""); err != nil || got != 0 {
		t.Fatalf("MediaBytes of an empty branch = %d, %v", got, err)
	}
	var want int64
	for _, size := range []int{1000, 2 << 20, 3} { // one above the large-object threshold
		file, p := media(t, size)
		if _, err := r.Commit(ctx, upload(file, p)); err != nil {
			t.Fatal(err)
		}
		want += int64(size)
	}
	other := Change{Add: []Blob{{Path: "docs/readme.md", File: mustFile(t, "hello\n")}}, Message: Message{Subject: "Add a page"}}
	if _, err := r.Commit(ctx, other); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		dir  string
		want int64
	}{{"media", want}, {"", want + 6}, {"docs", 6}, {"none", 0}} {
		if got, err := r.MediaBytes(ctx, tt.dir); err != nil || got != tt.want {
			t.Errorf("MediaBytes(%q) = %d, %v; want %d", tt.dir, got, err, tt.want)
		}
	}
}

func mustFile(t *testing.T, content string) string {
	t.Helper()
	p := t.TempDir() + "/f"
	if err := writeFileString(p, content); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSizeWarning(t *testing.T) {
	logs := &safebuf.Buffer{}
	w := NewSizeWarning(1000, slog.New(slog.NewTextHandler(logs, nil)))
	for _, tt := range []struct {
		total     int64
		wantOver  bool
		wantWarns int
	}{
		{10, false, 0}, {999, false, 0}, {1000, true, 1}, {5000, true, 1}, {1200, true, 1},
		{900, false, 1}, {1001, true, 2},
	} {
		if got := w.Observe(tt.total); got != tt.wantOver {
			t.Errorf("Observe(%d) = %v, want %v", tt.total, got, tt.wantOver)
		}
		if got := strings.Count(logs.String(), "level=WARN"); got != tt.wantWarns {
			t.Errorf("after Observe(%d): %d warnings, want %d", tt.total, got, tt.wantWarns)
		}
		if w.Total() != tt.total || w.Over() != tt.wantOver {
			t.Errorf("Total, Over = %d, %v after Observe(%d)", w.Total(), w.Over(), tt.total)
		}
	}
	if !strings.Contains(logs.String(), "back under") {
		t.Error("no note when the media fell back under the limit")
	}
	off := NewSizeWarning(0, slog.New(slog.NewTextHandler(logs, nil)))
	if off.Observe(1<<40) || off.Limit() != 0 {
		t.Error("a warning at 0 is not off")
	}
}

func writeFileString(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

// TestSizeWarningMeasure: Measure follows the branch (an upload, then
// its delete) and warns as the total crosses the limit.
func TestSizeWarningMeasure(t *testing.T) {
	r := open(t, Options{})
	ctx := context.Background()
	logs := &safebuf.Buffer{}
	w := NewSizeWarning(10_000, slog.New(slog.NewTextHandler(logs, nil)))
	small, p1 := media(t, 4000)
	big, p2 := media(t, 7000)
	for i, step := range []struct {
		change   Change
		want     int64
		wantOver bool
	}{
		{upload(small, p1), 4000, false},
		{upload(big, p2), 11_000, true},
		{Change{Delete: []string{p2}, Message: Message{Subject: "Delete"}}, 4000, false},
	} {
		if _, err := r.Commit(ctx, step.change); err != nil {
			t.Fatal(err)
		}
		got, err := w.Measure(ctx, r, "media")
		if err != nil || got != step.want || w.Over() != step.wantOver {
			t.Errorf("step %d: Measure = %d, %v, over %v; want %d, over %v", i, got, err, w.Over(), step.want, step.wantOver)
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1", n)
	}
}

// TestMeasureReadsOnlyNewTrees: Measure takes the total of a tree it has
// measured from its cache (a doctored total shows through once a commit
// elsewhere has made new trees above it), agrees with the uncached
// MediaBytes otherwise, and keeps its cache near the trees on the branch.
func TestMeasureReadsOnlyNewTrees(t *testing.T) {
	r := open(t, Options{})
	ctx := context.Background()
	w := NewSizeWarning(0, nil)
	var paths []string
	for i := range 120 {
		file, p := media(t, 100+i)
		if _, err := r.Commit(ctx, upload(file, p)); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		if i%3 == 2 { // delete some, so that trees leave the branch
			if _, err := r.Commit(ctx, Change{Delete: []string{paths[i-1]}, Message: Message{Subject: "Delete"}}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := w.Measure(ctx, r, "media")
		want, werr := r.MediaBytes(ctx, "media")
		if err != nil || werr != nil || got != want {
			t.Fatalf("commit %d: Measure = %d, %v; MediaBytes = %d, %v", i, got, err, want, werr)
		}
	}
	trees := strings.Count(gittest.Git(t, r.opts.Path, "ls-tree", "-r", "-d", "main", "media/"), "\n") + 1
	if got, limit := len(w.sizes), 2*trees+64; got > limit {
		t.Errorf("cache holds %d trees, over %d for the %d on the branch", got, limit, trees)
	}

	// Doctor the cached total of the first upload's top shard, then commit
	// into another: the shard's tree is unchanged, so its total comes from
	// the cache.
	h, err := r.History(ctx)
	if err != nil {
		t.Fatal(err)
	}
	top := path.Dir(path.Dir(paths[0])) // media/ab
	shard, err := h.headTree(top)
	h.Close()
	if err != nil || shard.IsZero() {
		t.Fatalf("tree of %s: %v", top, err)
	}
	s := w.sizes[shard]
	s.bytes += 1_000_000
	w.sizes[shard] = s
	var file, p string
	for file, p = media(t, 50); strings.HasPrefix(p, top+"/"); file, p = media(t, 50) {
	}
	if _, err := r.Commit(ctx, upload(file, p)); err != nil {
		t.Fatal(err)
	}
	got, _ := w.Measure(ctx, r, "media")
	want, _ := r.MediaBytes(ctx, "media")
	if got != want+1_000_000 {
		t.Errorf("Measure = %d after the doctored cache, want %d: the unchanged shard was read again", got, want+1_000_000)
	}
}
