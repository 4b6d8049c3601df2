package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testSite is a config file for a site whose repository lives in a temp
// folder, without a remote, and one static token that may upload and
// delete.
type testSite struct {
	dir, config, token string
}

func newTestSite(t *testing.T, baseURL string) testSite {
	t.Helper()
	dir := t.TempDir()
	s := testSite{dir: dir, config: filepath.Join(dir, "spano.yml"), token: "a-token-for-the-commands"}
	sum := sha256.Sum256([]byte(s.token))
	cfg := `listen: "127.0.0.1:9"
base_url: "` + baseURL + `"
data_dir: "` + filepath.Join(dir, "data") + `"
site:
  url: "https://example.com"
repo:
  push: "off"
auth:
  me: "https://example.com/"
  discover: false
  tokens:
    - sha256: "` + hex.EncodeToString(sum[:]) + `"
      scope: "media delete"
`
	if err := os.WriteFile(s.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// spano runs a command to its end and returns its output.
func spano(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// writePNG writes a gray PNG of w×h whose first pixel is seed, so each
// seed gives other bytes.
func writePNG(t *testing.T, dir, name string, w, h int, seed byte) string {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	img.Pix[0] = seed
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// deleteURL deletes a file through the running endpoint.
func deleteURL(t *testing.T, endpoint, token, u string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(url.Values{"action": {"delete"}, "url": {u}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("delete %s: status %d", u, resp.StatusCode)
	}
}

// uploadedSite serves a test site, uploads a photo with thumbnails, a
// small image and then deletes the small one with the commands and the
// endpoint, and stops serving. It returns the site and the URLs
// uploaded (photo, small).
func uploadedSite(t *testing.T) (testSite, string, string) {
	t.Helper()
	site := newTestSite(t, "http://127.0.0.1:9")
	s := start(t, "serve", "-config", site.config, "-listen", "127.0.0.1:0")
	endpoint := "http://" + s.addr + "/micropub/media"
	photo := writePNG(t, site.dir, "photo.png", 700, 500, 1)
	small := writePNG(t, site.dir, "small.png", 16, 16, 2)
	out, errOut, err := spano(t, "upload", "-config", site.config, "-endpoint", endpoint, "-token", site.token, photo, small)
	if err != nil {
		t.Fatalf("upload: %v\n%s", err, errOut)
	}
	urls := strings.Fields(out)
	if len(urls) != 2 {
		t.Fatalf("upload printed %q, want two URLs", out)
	}
	deleteURL(t, endpoint, site.token, urls[1])
	if err := s.stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	return site, urls[0], urls[1]
}
