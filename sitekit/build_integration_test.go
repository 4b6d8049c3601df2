//go:build integration

package sitekit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"

	"spano/internal/testphoto"
)

const siteURL = "https://example.com"

// The alt text given to every helper: each of its characters needs
// escaping in an attribute.
const trickyAlt = `Tom & "Jerry" <b>it's</b>`

// hugoAgainAlt is given to Hugo's shortcode as a raw string literal,
// which may hold double quotes.
const hugoAgainAlt = `again, "quoted" & <escaped>`

// mediaFile is one file of an upload as it sits in the repository.
type mediaFile struct {
	url   string
	bytes []byte
}

// upload is what spano leaves in the site for one upload: its files and
// its record.
type upload struct {
	record map[string]any
	files  []mediaFile
}

// layout is where a generator keeps media and records, and how they are
// sharded.
type layout struct {
	mediaDir, dataDir string
	depth, width      int
}

func (l layout) shards(sum string) string {
	var parts []string
	for i := range l.depth {
		parts = append(parts, sum[i*l.width:(i+1)*l.width])
	}
	return strings.Join(append(parts, ""), "/")
}

// newUpload makes the record and files of an upload of original with
// the given variants (suffix → bytes, type, width, height).
func newUpload(l layout, original []byte, ext, typ string, w, h int, filename string, variants []variant, poster []byte) upload {
	s := sha256.Sum256(original)
	sum := hex.EncodeToString(s[:])
	base := siteURL + "/media/" + l.shards(sum) + sum
	u := upload{files: []mediaFile{{base + "." + ext, original}}}
	rec := map[string]any{
		"url": base + "." + ext, "path": l.mediaDir + "/" + l.shards(sum) + sum + "." + ext,
		"sha256": sum, "type": typ, "size": len(original), "width": w, "height": h,
		"published": "2026-12-02T10:00:00Z", "storage": "repo", "filename": filename,
	}
	var vs []map[string]any
	for _, v := range variants {
		url := base + v.suffix
		u.files = append(u.files, mediaFile{url, v.bytes})
		vs = append(vs, map[string]any{"url": url, "type": v.typ, "width": v.w, "height": v.h})
	}
	rec["variants"] = vs
	if poster != nil {
		rec["poster"] = base + "-poster.jpg"
		rec["duration"] = 12.48
		u.files = append(u.files, mediaFile{base + "-poster.jpg", poster})
	}
	u.record = rec
	return u
}

type variant struct {
	suffix string
	bytes  []byte
	typ    string
	w, h   int
}

func encodeJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testphoto.Paint(w, h), &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// encodeWebP converts a JPEG with ffmpeg (libwebp) when it is
// installed; the generators copy static files as they are, so without it
// a marked stand-in does as well for the build.
func encodeWebP(t testing.TB, jpg []byte) []byte {
	t.Helper()
	standIn := append([]byte("RIFF\x00\x00\x00\x00WEBP stand-in for "), jpg[:64]...)
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		return standIn
	}
	cmd := exec.Command("ffmpeg", "-loglevel", "error", "-f", "jpeg_pipe", "-i", "-", "-c:v", "libwebp", "-f", "webp", "-")
	cmd.Stdin = bytes.NewReader(jpg)
	out, err := cmd.Output()
	if err != nil || !bytes.HasPrefix(out, []byte("RIFF")) {
		t.Logf("ffmpeg made no WebP (%v); using a stand-in", err)
		return standIn
	}
	return out
}

// testUploads are the uploads every build holds: a JPEG with JPEG, WebP
// and AVIF thumbnails, a PNG smaller than the smallest width (no thumbnails)
// and a video with a poster.
func testUploads(t testing.TB, l layout) (photo, icon, video upload) {
	var vs []variant
	for _, w := range []int{320, 640} {
		j := encodeJPEG(t, w, w*3/4)
		vs = append(vs,
			variant{"-" + strconv.Itoa(w) + "w.jpg", j, "image/jpeg", w, w * 3 / 4},
			variant{"-" + strconv.Itoa(w) + "w.webp", encodeWebP(t, j), "image/webp", w, w * 3 / 4},
			// Generators copy static files as they are: these bytes
			// stand for an AVIF, which no tool here writes.
			variant{"-" + strconv.Itoa(w) + "w.avif", append([]byte("\x00\x00\x00\x1cftypavif stand-in "), j[:64]...), "image/avif", w, w * 3 / 4})
	}
	photo = newUpload(l, encodeJPEG(t, 800, 600), "jpg", "image/jpeg", 800, 600, "IMG_0001.jpg", vs, nil)

	img := image.NewNRGBA(image.Rect(0, 0, 200, 100))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	img.Set(0, 0, color.NRGBA{1, 2, 3, 4})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	icon = newUpload(l, b.Bytes(), "png", "image/png", 200, 100, "icon.png", nil, nil)

	poster := encodeJPEG(t, 640, 360)
	video = newUpload(l, []byte("\x00\x00\x00\x18ftypmp42 a few bytes standing for a video"),
		"mp4", "video/mp4", 640, 360, "clip.mp4", nil, poster)
	return photo, icon, video
}

// writeSite writes files (slash paths relative to dir) and the uploads'
// files and records into dir.
func writeSite(t testing.TB, dir string, l layout, files map[string]string, ups ...upload) {
	t.Helper()
	put := func(rel string, b []byte) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for rel, s := range files {
		put(rel, []byte(s))
	}
	for _, u := range ups {
		for _, f := range u.files {
			put(l.mediaDir+strings.TrimPrefix(f.url, siteURL+"/media"), f.bytes)
		}
		rec, err := json.MarshalIndent(u.record, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		sum := u.record["sha256"].(string)
		put(l.dataDir+"/spano/"+l.shards(sum)+sum+".json", rec)
	}
}

// rendered is what one use of a helper must have produced.
type rendered struct {
	tag                 string   // picture, img, video or audio
	sources             []string // picture: "type|srcset" of each <source>, in order
	src, srcset, sizes  string   // the img (or video/audio source's src)
	width, height       string
	alt, poster, srcTyp string
}

// TestBuilds writes a site holding uploads and their records, writes the
// kit with Write, builds the site with the real generator and checks the
// HTML every use of the helpers produced, and that every URL in it is a
// file of the build output with the stored bytes.
func TestBuilds(t *testing.T) {
	layouts := []struct{ depth, width int }{{2, 2}, {1, 3}}
	for _, gen := range []string{Jekyll, Hugo} {
		for _, lw := range layouts {
			t.Run(gen+"/depth"+strconv.Itoa(lw.depth)+"width"+strconv.Itoa(lw.width), func(t *testing.T) {
				if _, err := exec.LookPath(gen); err != nil {
					t.Skipf("%s is not installed (.ci/run installs Debian's jekyll and hugo): %v", gen, err)
				}
				l := layout{mediaDir: "media", dataDir: "_data", depth: lw.depth, width: lw.width}
				if gen == Hugo {
					l.mediaDir, l.dataDir = "static/media", "data"
				}
				testBuild(t, gen, l)
			})
		}
	}
}

func testBuild(t *testing.T, gen string, l layout) {
	photo, icon, video := testUploads(t, l)
	unknownImg := siteURL + "/media/ff/ff/" + strings.Repeat("f", 64) + ".jpg?v=1"
	unknownVideo := siteURL + "/media/elsewhere/clip.mp4"
	url := func(u upload) string { return u.record["url"].(string) }

	src, out := t.TempDir(), t.TempDir()
	var files map[string]string
	var cmd *exec.Cmd
	switch gen {
	case Jekyll:
		files = map[string]string{
			"_config.yml": "title: A site\nurl: \"" + siteURL + "\"\n",
			"_posts/2026-12-02-photos.md": "---\ntitle: Photos\npermalink: /photos/\ncover_alt: '" + strings.ReplaceAll(trickyAlt, "'", "''") + "'\n---\n" +
				"A photo:\n\n{% include spano/picture.html url=\"" + url(photo) + "\" alt=page.cover_alt %}\n\n" +
				"{% include spano/picture.html url=\"" + url(photo) + "\" alt=\"again\" sizes=\"50vw\" %}\n\n" +
				"{% include spano/picture.html url=\"" + url(icon) + "\" alt=\"icon\" %}\n\n" +
				"{% include spano/picture.html url=\"" + url(video) + "\" alt=\"clip\" %}\n\n" +
				"{% include spano/picture.html url=\"" + unknownImg + "\" alt=\"gone\" %}\n\n" +
				"{% include spano/picture.html url=\"" + unknownVideo + "\" %}\n",
		}
		// --safe is how GitHub Pages builds: no plugins.
		cmd = exec.Command("jekyll", "build", "--safe", "--quiet", "-s", src, "-d", out)
	case Hugo:
		files = map[string]string{
			"hugo.toml":                    "baseURL = \"" + siteURL + "/\"\ntitle = \"A site\"\ndisableKinds = [\"taxonomy\", \"term\", \"RSS\", \"sitemap\"]\n",
			"layouts/_default/single.html": "<!doctype html><html><body>{{ with .Params.cover }}{{ partial \"spano/picture.html\" (dict \"url\" . \"alt\" $.Params.cover_alt) }}{{ end }}{{ .Content }}</body></html>\n",
			"layouts/_default/list.html":   "<!doctype html><html><body>{{ .Content }}</body></html>\n",
			"content/photos.md": "---\ntitle: Photos\nurl: /photos/\ncover: \"" + url(photo) + "\"\ncover_alt: '" + strings.ReplaceAll(trickyAlt, "'", "''") + "'\n---\n" +
				"A photo:\n\n{{< spano url=\"" + url(photo) + "\" alt=`" + hugoAgainAlt + "` sizes=\"50vw\" >}}\n\n" +
				"{{< spano url=\"" + url(icon) + "\" alt=\"icon\" >}}\n\n" +
				"{{< spano url=\"" + url(video) + "\" alt=\"clip\" >}}\n\n" +
				"{{< spano url=\"" + unknownImg + "\" alt=\"gone\" >}}\n\n" +
				"{{< spano url=\"" + unknownVideo + "\" >}}\n",
		}
		cmd = exec.Command("hugo", "--quiet", "-s", src, "-d", out)
	}
	writeSite(t, src, l, files, photo, icon, video)
	if _, err := Write(src, Options{Generator: gen, Depth: l.depth, Width: l.width}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, b)
	} else if bytes.Contains(b, []byte("ERROR")) || bytes.Contains(b, []byte("Liquid Warning")) {
		t.Fatalf("%s complained:\n%s", cmd, b)
	}

	page, err := os.ReadFile(filepath.Join(out, "photos", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if testing.Verbose() {
		t.Logf("%s", page)
	}
	if strings.Contains(string(page), `"Jerry"`) || strings.Contains(string(page), "<b>") {
		t.Errorf("the alt text is not escaped in\n%s", page)
	}
	pv := func(u upload, i int) string { return u.record["variants"].([]map[string]any)[i]["url"].(string) }
	photoWant := rendered{
		tag: "picture",
		sources: []string{
			"image/avif|" + pv(photo, 2) + " 320w, " + pv(photo, 5) + " 640w",
			"image/webp|" + pv(photo, 1) + " 320w, " + pv(photo, 4) + " 640w",
		},
		src: url(photo), srcset: pv(photo, 0) + " 320w, " + pv(photo, 3) + " 640w, " + url(photo) + " 800w",
		sizes: DefaultSizes, width: "800", height: "600", alt: trickyAlt,
	}
	again := photoWant
	again.sizes, again.alt = "50vw", "again"
	if gen == Hugo {
		again.alt = hugoAgainAlt
	}
	want := []rendered{
		photoWant, again,
		{tag: "img", src: url(icon), width: "200", height: "100", alt: "icon"},
		{tag: "video", src: url(video), srcTyp: "video/mp4", width: "640", height: "360", poster: video.record["poster"].(string), alt: "clip"},
		{tag: "img", src: unknownImg, alt: "gone"},
		{tag: "video", src: unknownVideo},
	}
	got := helperOutputs(t, page)
	if len(got) != len(want) {
		t.Fatalf("found %d rendered uploads, want %d, in\n%s", len(got), len(want), page)
	}
	for i := range want {
		if diff := cmp.Diff(describe(got[i]), want[i], cmp.AllowUnexported(rendered{})); diff != "" {
			t.Errorf("use %d (-got +want):\n%s", i, diff)
		}
	}
	checkURLsExist(t, out, page, photo, icon, video)
}

// helperOutputs finds, in document order, the elements the helpers
// render: <picture>, <video>, <audio>, and <img> outside a <picture>.
func helperOutputs(t *testing.T, page []byte) []*html.Node {
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var found []*html.Node
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "picture", "video", "audio", "img":
				found = append(found, n)
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return found
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

// describe reads a rendered element back into the fields the test
// expects; attributes every use must carry are checked by their absence
// showing up as a mismatch.
func describe(n *html.Node) rendered {
	r := rendered{tag: n.Data}
	img := n
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type != html.ElementNode {
			continue
		}
		switch {
		case n.Data == "picture" && c.Data == "source":
			r.sources = append(r.sources, attr(c, "type")+"|"+attr(c, "srcset"))
			if attr(c, "sizes") != attr(lastChild(n, "img"), "sizes") {
				r.sources = append(r.sources, "sizes differ: "+attr(c, "sizes"))
			}
		case n.Data == "picture" && c.Data == "img":
			img = c
		case c.Data == "source":
			r.src, r.srcTyp = attr(c, "src"), attr(c, "type")
		}
	}
	switch n.Data {
	case "video", "audio":
		if r.src == "" {
			r.src = attr(n, "src")
		}
		r.width, r.height, r.poster, r.alt = attr(n, "width"), attr(n, "height"), attr(n, "poster"), attr(n, "aria-label")
		if !hasAttr(n, "controls") || attr(n, "preload") != "metadata" {
			r.tag += " without controls preload=metadata"
		}
		return r
	}
	r.src, r.srcset, r.sizes = attr(img, "src"), attr(img, "srcset"), attr(img, "sizes")
	r.width, r.height, r.alt = attr(img, "width"), attr(img, "height"), attr(img, "alt")
	if attr(img, "loading") != "lazy" || attr(img, "decoding") != "async" || !hasAttr(img, "alt") {
		r.tag += " without loading=lazy decoding=async alt"
	}
	return r
}

func lastChild(n *html.Node, tag string) *html.Node {
	var last *html.Node
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.Data == tag {
			last = c
		}
	}
	if last == nil {
		return &html.Node{}
	}
	return last
}

// checkURLsExist checks that every URL of the uploads the page names, in
// src, srcset and poster, is a file of the build with the stored bytes.
func checkURLsExist(t *testing.T, out string, page []byte, ups ...upload) {
	t.Helper()
	stored := map[string][]byte{}
	for _, u := range ups {
		for _, f := range u.files {
			stored[f.url] = f.bytes
		}
	}
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			var urls []string
			for _, a := range n.Attr {
				switch a.Key {
				case "src", "poster":
					urls = append(urls, a.Val)
				case "srcset":
					for _, c := range strings.Split(a.Val, ",") {
						urls = append(urls, strings.Fields(c)[0])
					}
				}
			}
			for _, u := range urls {
				want, ok := stored[u]
				if !ok {
					continue // the unknown URLs
				}
				checked++
				b, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(strings.TrimPrefix(u, siteURL))))
				if err != nil {
					t.Errorf("%s is not in the build: %v", u, err)
				} else if !bytes.Equal(b, want) {
					t.Errorf("%s in the build differs from the stored bytes", u)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if checked < 10 {
		t.Errorf("checked only %d URLs of uploads in the page", checked)
	}
}
