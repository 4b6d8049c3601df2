package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"spano/sitekit"
)

func TestKit(t *testing.T) {
	site := newTestSite(t, "http://127.0.0.1:9")
	tests := []struct {
		name  string
		args  []string
		files []string
		notes []string
	}{
		{
			name:  "jekyll from the config",
			args:  []string{"kit", "-config", site.config},
			files: []string{"_includes/spano/picture.html"},
			notes: []string{"_data/spano/"},
		},
		{
			name:  "hugo by flag",
			args:  []string{"kit", "-config", site.config, "-generator", "hugo", "-sizes", "100vw"},
			files: []string{"layouts/partials/spano/picture.html", "layouts/shortcodes/spano.html"},
			notes: []string{"data/spano/", "outside static/", "site.generator is jekyll"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out, errOut, err := spano(t, append(tt.args, dir)...)
			if err != nil {
				t.Fatalf("kit: %v\n%s", err, errOut)
			}
			for _, f := range tt.files {
				if !strings.Contains(out, "created     "+f) {
					t.Errorf("output does not say %s was created:\n%s", f, out)
				}
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Error(err)
				}
			}
			for _, n := range tt.notes {
				if !strings.Contains(out, n) {
					t.Errorf("output lacks %q:\n%s", n, out)
				}
			}
			if out, _, err := spano(t, append(tt.args, dir)...); err != nil || !strings.Contains(out, "unchanged") {
				t.Errorf("second run: %v\n%s", err, out)
			}
		})
	}
}

func TestKitKeepsEdits(t *testing.T) {
	site := newTestSite(t, "http://127.0.0.1:9")
	dir := t.TempDir()
	if _, errOut, err := spano(t, "kit", "-config", site.config, dir); err != nil {
		t.Fatalf("kit: %v\n%s", err, errOut)
	}
	include := filepath.Join(dir, "_includes", "spano", "picture.html")
	if err := os.WriteFile(include, []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := spano(t, "kit", "-config", site.config, dir)
	if !errors.Is(err, sitekit.ErrChanged) || !strings.Contains(out, "kept") {
		t.Fatalf("kit over an edited include: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(include); string(b) != "mine\n" {
		t.Fatal("the owner's include was replaced")
	}
	if out, _, err := spano(t, "kit", "-config", site.config, "-force", dir); err != nil || !strings.Contains(out, "overwritten") {
		t.Fatalf("kit -force: %v\n%s", err, out)
	}
}

func TestKitErrors(t *testing.T) {
	site := newTestSite(t, "http://127.0.0.1:9")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no folder", []string{"kit", "-config", site.config}, "site's folder"},
		{"two folders", []string{"kit", "-config", site.config, "a", "b"}, "site's folder"},
		{"unknown generator", []string{"kit", "-config", site.config, "-generator", "zola", t.TempDir()}, `"zola"`},
		{"missing folder", []string{"kit", "-config", site.config, filepath.Join(t.TempDir(), "nope")}, "site folder"},
		{"bad sizes", []string{"kit", "-config", site.config, "-sizes", `"`, t.TempDir()}, "sizes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := spano(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one about %s", err, tt.want)
			}
		})
	}
}
