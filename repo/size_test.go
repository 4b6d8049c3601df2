package repo

import (
	"context"
	"log/slog"
	"os"
	"spano/internal/safebuf"
	"strings"
	"testing"
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
	if got := len(w.sizes); got != 1 {
		t.Errorf("size cache holds %d blobs, want the 1 on the branch", got)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1", n)
	}
}
