//go:build integration

package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"spano/internal/gittest"
	"strings"
	"testing"
	"time"
)

// TestStaticSiteGenerators uploads through spano into a Jekyll site and
// a Hugo site, builds each with the real generator from a clone of the
// remote, and checks that every URL spano returned, thumbnails too, is a
// file of the build output with the bytes spano stored.
func TestStaticSiteGenerators(t *testing.T) {
	tests := []struct {
		name      string
		generator string
		mediaDir  string // where spano puts media in the repository
		site      map[string]string
		build     func(src, out string) *exec.Cmd
	}{
		{
			name: "jekyll", generator: "jekyll", mediaDir: "media",
			site: map[string]string{
				"_config.yml": "title: A site\nurl: \"https://example.com\"\n",
				"index.md":    "---\ntitle: Home\n---\n# Hello\n",
			},
			build: func(src, out string) *exec.Cmd {
				return exec.Command("jekyll", "build", "--quiet", "-s", src, "-d", out)
			},
		},
		{
			name: "hugo", generator: "hugo", mediaDir: "static/media",
			site: map[string]string{
				"hugo.toml":         "baseURL = \"https://example.com/\"\ntitle = \"A site\"\ndisableKinds = [\"taxonomy\", \"term\", \"RSS\", \"sitemap\"]\n",
				"content/_index.md": "---\ntitle: Home\n---\n# Hello\n",
			},
			build: func(src, out string) *exec.Cmd {
				return exec.Command("hugo", "--quiet", "-s", src, "-d", out)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := exec.LookPath(tt.generator); err != nil {
				t.Skipf("%s is not installed (.ci/run installs Debian's jekyll and hugo): %v", tt.generator, err)
			}
			remote := gittest.NewRemote(t, tt.site)
			s := newSpano(t, "spano", options{remote: remote, push: "sync", generator: tt.generator, widths: []int{320, 640}})
			s.start()

			photo := jpegImage(7, 800, 600)
			ups := []uploaded{s.mustUpload("photo.jpg", photo), s.mustUpload("icon.png", pngImage(8))}
			if got, want := len(ups[0].Thumbnails), 2; got != want {
				t.Fatalf("photo has %d thumbnails, want %d", got, want)
			}
			urls := []string{}
			for _, u := range ups {
				if !u.Pushed {
					t.Fatalf("sync upload %s not pushed", u.URL)
				}
				urls = append(urls, u.URL)
				for _, th := range u.Thumbnails {
					urls = append(urls, th.URL)
				}
			}

			if got, want := len(urls), 4; got != want {
				t.Fatalf("%d URLs to check, want %d (two originals, two thumbnails)", got, want)
			}
			dir := t.TempDir()
			src, out := filepath.Join(dir, "src"), filepath.Join(dir, "out")
			gittest.Git(t, dir, "clone", "-q", remote, src)
			start := time.Now()
			cmd := tt.build(src, out)
			cmd.Env = append(os.Environ(), "JEKYLL_ENV=production")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, b)
			}
			t.Logf("%s built the site in %s", tt.generator, time.Since(start).Round(time.Millisecond))

			for _, u := range urls {
				rel, ok := strings.CutPrefix(u, siteURL+"/")
				if !ok {
					t.Fatalf("URL %s is not under site.url %s", u, siteURL)
				}
				built, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(rel)))
				if err != nil {
					t.Errorf("URL %s: not in the %s output: %v", u, tt.generator, err)
					continue
				}
				stored := blob(t, remote, "main:"+repoPath(t, tt.mediaDir, u))
				if !bytes.Equal(built, stored) {
					t.Errorf("URL %s: the built file (%d bytes) differs from the stored one (%d bytes)", u, len(built), len(stored))
				}
			}
			built, err := os.ReadFile(filepath.Join(out, strings.TrimPrefix(ups[0].URL, siteURL+"/")))
			if err == nil && !bytes.Equal(built, photo) {
				t.Errorf("the published photo differs from the uploaded bytes")
			}
		})
	}
}

// blob reads an object's exact bytes with git cat-file.
func blob(t *testing.T, dir, rev string) []byte {
	t.Helper()
	cmd := exec.Command("git", "cat-file", "blob", rev)
	cmd.Dir = dir
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("git cat-file blob %s: %v", rev, err)
	}
	return b
}
