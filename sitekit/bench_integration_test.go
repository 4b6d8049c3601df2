//go:build integration

package sitekit

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkBuild is a whole site build with one page showing 200
// uploads through the kit's helper, against the same page with 200 plain
// <img> tags (the baseline: what the helper costs the build).
func BenchmarkBuild(b *testing.B) {
	for _, gen := range []string{Jekyll, Hugo} {
		if _, err := exec.LookPath(gen); err != nil {
			b.Skipf("%s is not installed: %v", gen, err)
		}
		l := layout{mediaDir: "media", dataDir: "_data", depth: 2, width: 2}
		if gen == Hugo {
			l.mediaDir, l.dataDir = "static/media", "data"
		}
		var ups []upload
		photo, _, _ := testUploads(b, l)
		for i := range 200 {
			u := newUpload(l, append([]byte(strconv.Itoa(i)), photo.files[0].bytes[:512]...), "jpg", "image/jpeg", 800, 600, "p.jpg", nil, nil)
			u.record["variants"] = photo.record["variants"]
			ups = append(ups, u)
		}
		for _, helper := range []bool{false, true} {
			name := gen + "/plain-img"
			if helper {
				name = gen + "/helper"
			}
			b.Run(name, func(b *testing.B) {
				var body strings.Builder
				for _, u := range ups {
					url := u.record["url"].(string)
					switch {
					case !helper:
						body.WriteString(`<img src="` + url + `" alt="a photo">` + "\n\n")
					case gen == Jekyll:
						body.WriteString(`{% include spano/picture.html url="` + url + `" alt="a photo" %}` + "\n\n")
					default:
						body.WriteString(`{{< spano url="` + url + `" alt="a photo" >}}` + "\n\n")
					}
				}
				src := b.TempDir()
				files := map[string]string{
					"_config.yml":                 "title: A site\n",
					"_posts/2026-12-02-photos.md": "---\ntitle: Photos\npermalink: /photos/\n---\n" + body.String(),
				}
				if gen == Hugo {
					files = map[string]string{
						"hugo.toml":                    "baseURL = \"" + siteURL + "/\"\ntitle = \"A site\"\ndisableKinds = [\"taxonomy\", \"term\", \"RSS\", \"sitemap\"]\n[markup.goldmark.renderer]\nunsafe = true\n",
						"layouts/_default/single.html": "<!doctype html><html><body>{{ .Content }}</body></html>\n",
						"layouts/_default/list.html":   "<!doctype html><html><body>{{ .Content }}</body></html>\n",
						"content/photos.md":            "---\ntitle: Photos\nurl: /photos/\n---\n" + body.String(),
					}
				}
				writeSite(b, src, l, files, ups...)
				if _, err := Write(src, Options{Generator: gen, Depth: 2, Width: 2}); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for range b.N {
					out := b.TempDir()
					cmd := exec.Command(gen, "build", "--safe", "--quiet", "-s", src, "-d", out)
					if gen == Hugo {
						cmd = exec.Command("hugo", "--quiet", "-s", src, "-d", out)
					}
					cmd.Env = append(os.Environ(), "HOME="+b.TempDir())
					if msg, err := cmd.CombinedOutput(); err != nil {
						b.Fatalf("%v\n%s", err, msg)
					}
				}
			})
		}
	}
}
