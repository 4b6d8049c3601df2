package sitekit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRenderLayout(t *testing.T) {
	tests := []struct {
		name         string
		opts         Options
		file         string
		want, absent []string
	}{
		{
			name: "jekyll default layout",
			opts: Options{Generator: Jekyll, Depth: 2, Width: 2},
			file: "_includes/spano/picture.html",
			want: []string{"slice: 0, 2", "slice: 2, 2", `default: "` + DefaultSizes + `"`},
		},
		{
			name:   "jekyll one shard of three",
			opts:   Options{Generator: Jekyll, Depth: 1, Width: 3, Sizes: "100vw"},
			file:   "_includes/spano/picture.html",
			want:   []string{"slice: 0, 3", `default: "100vw"`},
			absent: []string{"slice: 3, 3", DefaultSizes},
		},
		{
			name:   "jekyll no shards",
			opts:   Options{Generator: Jekyll, Depth: 0, Width: 2},
			file:   "_includes/spano/picture.html",
			absent: []string{"spano_k0"},
		},
		{
			name: "hugo partial",
			opts: Options{Generator: Hugo, Depth: 3, Width: 1},
			file: "layouts/partials/spano/picture.html",
			want: []string{"substr $hash 0 1", "substr $hash 1 1", "substr $hash 2 1"},
		},
		{
			name: "hugo shortcode",
			opts: Options{Generator: Hugo, Depth: 2, Width: 2},
			file: "layouts/shortcodes/spano.html",
			want: []string{`partial "spano/picture.html"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := Render(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := string(files[tt.file])
			if got == "" {
				t.Fatalf("no %s in %v", tt.file, files)
			}
			if strings.Contains(got, "[[") {
				t.Errorf("unexpanded generator template left in %s", tt.file)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("%s lacks %q", tt.file, w)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(got, a) {
					t.Errorf("%s holds %q", tt.file, a)
				}
			}
			if !pristine(files[tt.file]) {
				t.Errorf("%s does not carry its own hash in its header", tt.file)
			}
		})
	}
}

func TestRenderRefuses(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"unknown generator", Options{Generator: "eleventy", Depth: 2, Width: 2}, `generator "eleventy"`},
		{"no generator", Options{Depth: 2, Width: 2}, `generator ""`},
		{"zero width", Options{Generator: Jekyll, Depth: 2, Width: 0}, "layout"},
		{"negative depth", Options{Generator: Hugo, Depth: -1, Width: 2}, "layout"},
		{"longer than the hash", Options{Generator: Hugo, Depth: 9, Width: 8}, "layout"},
		{"quote in sizes", Options{Generator: Jekyll, Depth: 2, Width: 2, Sizes: `100vw" onload="x`}, "sizes"},
		{"liquid in sizes", Options{Generator: Jekyll, Depth: 2, Width: 2, Sizes: "{{ site.x }}"}, "sizes"},
		{"newline in sizes", Options{Generator: Hugo, Depth: 2, Width: 2, Sizes: "100vw\n"}, "sizes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Render: %v, want an error about %s", err, tt.want)
			}
			if _, err := Write(t.TempDir(), tt.opts); err == nil {
				t.Fatal("Write accepted what Render refused")
			}
		})
	}
}

// TestWriteKeepsOwnersChanges walks a site through the life of its kit:
// first written, written again, upgraded, edited by its owner, forced.
func TestWriteKeepsOwnersChanges(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Generator: Hugo, Depth: 2, Width: 2}
	partial := filepath.Join(dir, "layouts", "partials", "spano", "picture.html")
	shortcode := filepath.Join(dir, "layouts", "shortcodes", "spano.html")

	steps := []struct {
		name    string
		before  func(t *testing.T)
		opts    Options
		want    []Result
		wantErr error
	}{
		{
			name: "first write", opts: opts,
			want: []Result{{"layouts/partials/spano/picture.html", Created}, {"layouts/shortcodes/spano.html", Created}},
		},
		{
			name: "same again", opts: opts,
			want: []Result{{"layouts/partials/spano/picture.html", Unchanged}, {"layouts/shortcodes/spano.html", Unchanged}},
		},
		{
			name: "new layout replaces untouched files", opts: Options{Generator: Hugo, Depth: 1, Width: 3},
			want: []Result{{"layouts/partials/spano/picture.html", Updated}, {"layouts/shortcodes/spano.html", Unchanged}},
		},
		{
			name:    "the owner's edit is kept",
			before:  func(t *testing.T) { appendTo(t, partial, "<!-- mine -->\n") },
			opts:    opts,
			want:    []Result{{"layouts/partials/spano/picture.html", Kept}, {"layouts/shortcodes/spano.html", Unchanged}},
			wantErr: ErrChanged,
		},
		{
			name:    "a file of the owner's own is kept",
			before:  func(t *testing.T) { writeFile(t, shortcode, "{{ .Get \"url\" }}\n") },
			opts:    opts,
			want:    []Result{{"layouts/partials/spano/picture.html", Kept}, {"layouts/shortcodes/spano.html", Kept}},
			wantErr: ErrChanged,
		},
		{
			name: "force replaces them", opts: Options{Generator: Hugo, Depth: 2, Width: 2, Force: true},
			want: []Result{{"layouts/partials/spano/picture.html", Overwritten}, {"layouts/shortcodes/spano.html", Overwritten}},
		},
		{
			name: "and they are the kit's again", opts: opts,
			want: []Result{{"layouts/partials/spano/picture.html", Unchanged}, {"layouts/shortcodes/spano.html", Unchanged}},
		},
	}
	for _, st := range steps {
		if st.before != nil {
			st.before(t)
		}
		before, _ := os.ReadFile(partial)
		got, err := Write(dir, st.opts)
		if !errors.Is(err, st.wantErr) || (st.wantErr == nil) != (err == nil) {
			t.Fatalf("%s: Write error %v, want %v", st.name, err, st.wantErr)
		}
		if diff := cmp.Diff(got, st.want); diff != "" {
			t.Fatalf("%s: results (-got +want):\n%s", st.name, diff)
		}
		if st.want[0].Action == Kept && readFile(t, partial) != string(before) {
			t.Fatalf("%s: the owner's file was changed", st.name)
		}
	}
	want, err := Render(opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, partial); got != string(want["layouts/partials/spano/picture.html"]) {
		t.Error("the partial is not the kit after a forced write")
	}
	if entries, _ := filepath.Glob(filepath.Join(dir, "layouts", "*", "*", ".spano-kit-*")); len(entries) > 0 {
		t.Errorf("temp files left behind: %v", entries)
	}
}

func TestWriteNeedsAFolder(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	writeFile(t, file, "x")
	for _, d := range []string{filepath.Join(dir, "missing"), file} {
		if _, err := Write(d, Options{Generator: Jekyll, Depth: 2, Width: 2}); err == nil {
			t.Errorf("Write(%s) succeeded", d)
		}
	}
}

func TestPristine(t *testing.T) {
	kit, err := Render(Options{Generator: Jekyll, Depth: 2, Width: 2})
	if err != nil {
		t.Fatal(err)
	}
	good := kit["_includes/spano/picture.html"]
	tests := []struct {
		name    string
		content string
		want    bool
	}{
		{"as written", string(good), true},
		{"edited body", string(good) + " ", false},
		{"no header", "<img>\n", false},
		{"one line", "spano kit 1 sha256:", false},
		{"short hash", "{% comment %} spano kit 1 sha256:abc {% endcomment %}\nbody", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pristine([]byte(tt.content)); got != tt.want {
				t.Errorf("pristine = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFiles(t *testing.T) {
	got, err := Files(Jekyll)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, []string{"_includes/spano/picture.html"}); diff != "" {
		t.Error(diff)
	}
	if _, err := Files("zola"); err == nil {
		t.Error("Files accepted an unknown generator")
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, p, s string) {
	t.Helper()
	writeFile(t, p, readFile(t, p)+s)
}
