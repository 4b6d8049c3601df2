package server

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"spano/heic"
	"spano/internal/gittest"
	"spano/video"
)

// needTool returns the path of an external tool, or skips the test.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (Debian: %s); .ci/run installs it", name, pkg)
	}
	return p
}

// run runs a tool and fails the test with its output if it fails.
func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(name), args, err, out)
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// created decodes a 201 body, failing the test on any other answer.
func created(t *testing.T, resp *http.Response) uploadResponse {
	t.Helper()
	var up uploadResponse
	if resp.StatusCode != http.StatusCreated {
		var body errorBody
		decode(t, resp, &body)
		t.Fatalf("status %d, want 201: %+v", resp.StatusCode, body)
	}
	decode(t, resp, &up)
	return up
}

// lastMessage is the message of the newest commit on the remote's main.
func (e *env) lastMessage() string {
	return gittest.Git(e.t, e.remote, "log", "-1", "--format=%B", "main")
}

// remoteBlob is the file at path on the remote's main.
func (e *env) remoteBlob(path string) []byte {
	e.t.Helper()
	out, err := exec.Command("git", "-C", e.remote, "show", "main:"+path).Output()
	if err != nil {
		e.t.Fatalf("git show main:%s: %v", path, err)
	}
	return out
}

// TestUploadHEIC sends a HEIC made by heif-enc through the endpoint: it
// is published as a JPEG, its commit names what was sent, and the same
// HEIC again is a duplicate of that JPEG.
func TestUploadHEIC(t *testing.T) {
	enc := needTool(t, "heif-enc", "libheif-examples")
	dir := t.TempDir()
	src := filepath.Join(dir, "photo.jpg")
	if err := os.WriteFile(src, makeJPEG(t, 11, 320, 240), 0o600); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "photo.heic")
	run(t, enc, "-q", "80", "-o", in, src)
	heicBytes, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}

	e := newEnv(t, envOptions{widths: []int{160}, converter: heic.New(heic.Options{}),
		types: append(slices.Clone(envTypes), "image/heic", "image/heif")})
	resp := e.upload(goodToken, "IMG_0001.HEIC", heicBytes)
	up := created(t, resp)
	if up.Type != "image/jpeg" || !strings.HasSuffix(up.URL, "/"+up.SHA256+".jpg") || up.Width != 320 || up.Height != 240 {
		t.Errorf("201: type %q url %q %d×%d, want image/jpeg .jpg 320×240", up.Type, up.URL, up.Width, up.Height)
	}
	if up.SHA256 == sha256Hex(heicBytes) {
		t.Errorf("published under the HEIC's own hash")
	}
	stored := e.remoteBlob(repoPathOf(up.URL))
	if got := sha256Hex(stored); got != up.SHA256 || !strings.HasPrefix(string(stored), "\xff\xd8") {
		t.Errorf("stored file hashes to %s (JPEG magic %v), want %s", got, strings.HasPrefix(string(stored), "\xff\xd8"), up.SHA256)
	}
	msg := e.lastMessage()
	for _, want := range []string{"Media-Source-Type: image/heic", "Media-Source-SHA256: " + sha256Hex(heicBytes),
		"Media-SHA256: " + up.SHA256, "Media-Type: image/jpeg"} {
		if !strings.Contains(msg, want) {
			t.Errorf("commit message lacks %q:\n%s", want, msg)
		}
	}
	if len(up.Thumbnails) != 1 || up.Thumbnails[0].Width != 160 || up.Thumbnails[0].Type != "image/jpeg" {
		t.Errorf("thumbnails %+v, want one JPEG 160 wide", up.Thumbnails)
	}

	commits := e.remoteCommits()
	again := e.upload(goodToken, "IMG_0001 copy.HEIC", heicBytes)
	var dup uploadResponse
	decode(t, again, &dup)
	if again.StatusCode != http.StatusCreated || !dup.Duplicate || dup.URL != up.URL || dup.SHA256 != up.SHA256 {
		t.Errorf("same HEIC again: %d duplicate %v url %q, want 201 duplicate of %s", again.StatusCode, dup.Duplicate, dup.URL, up.URL)
	}
	if got := e.remoteCommits(); got != commits {
		t.Errorf("the duplicate HEIC made a commit (%s → %s)", commits, got)
	}
}

// TestUploadHEICWithoutConverter: with no converter a HEIC is refused
// and nothing is committed.
func TestUploadHEICWithoutConverter(t *testing.T) {
	enc := needTool(t, "heif-enc", "libheif-examples")
	dir := t.TempDir()
	src := filepath.Join(dir, "photo.jpg")
	if err := os.WriteFile(src, makeJPEG(t, 12, 320, 240), 0o600); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "photo.heic")
	run(t, enc, "-q", "80", "-o", in, src)
	heicBytes, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{types: append(slices.Clone(envTypes), "image/heic")})
	same := e.unchanged()
	resp := e.upload(goodToken, "IMG_0002.HEIC", heicBytes)
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		wantError(t, resp, http.StatusUnsupportedMediaType, codeInvalidRequest)
	}
	resp.Body.Close()
	same()
}

// portraitMP4 is two seconds of ffmpeg's test pattern, 320×240 as
// stored, with a 90° rotation in its track header: what a phone held
// upright records. It is shown 240×320.
func portraitMP4(t *testing.T) []byte {
	t.Helper()
	ff := needTool(t, "ffmpeg", "ffmpeg")
	dir := t.TempDir()
	flat, turned := filepath.Join(dir, "flat.mp4"), filepath.Join(dir, "turned.mp4")
	run(t, ff, "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-y", flat)
	// ffmpeg 5.1 writes the rotate tag as a display matrix only when
	// copying.
	run(t, ff, "-nostdin", "-loglevel", "error", "-i", flat, "-c", "copy", "-metadata:s:v:0", "rotate=90", "-y", turned)
	b, err := os.ReadFile(turned)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUploadVideo sends a portrait phone-style MP4 through the endpoint:
// width and height as displayed and the duration in the 201; with ffmpeg
// a poster frame and its thumbnails in the same commit, without it the
// facts alone.
func TestUploadVideo(t *testing.T) {
	mp4 := portraitMP4(t)
	ff := needTool(t, "ffmpeg", "ffmpeg")
	for _, tt := range []struct {
		name   string
		ffmpeg string
	}{{"with ffmpeg", ff}, {"without ffmpeg", ""}} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{widths: []int{120}, records: true, video: video.Options{FFmpeg: tt.ffmpeg}})
			commits := e.remoteCommits()
			resp := e.upload(goodToken, "VID_0001.mp4", mp4)
			up := created(t, resp)
			if up.Type != "video/mp4" || up.Width != 240 || up.Height != 320 || math.Abs(up.Duration-2) > 0.1 {
				t.Errorf("201: type %q %d×%d duration %v, want video/mp4 240×320 (as displayed) 2 s", up.Type, up.Width, up.Height, up.Duration)
			}
			if got := e.remoteCommits(); got == commits {
				t.Fatalf("no commit")
			}
			base := strings.TrimSuffix(repoPathOf(up.URL), ".mp4")
			files := map[string]bool{}
			for _, f := range strings.Split(gittest.Git(t, e.remote, "show", "--name-only", "--format=", "main"), "\n") {
				files[f] = true
			}
			if !files[base+".mp4"] {
				t.Errorf("the commit lacks the video %s.mp4: %v", base, files)
			}
			if tt.ffmpeg == "" {
				if up.Poster != "" || len(up.Thumbnails) != 0 || files[base+"-poster.jpg"] {
					t.Errorf("without ffmpeg: poster %q thumbnails %+v, files %v; want none", up.Poster, up.Thumbnails, files)
				}
				return
			}
			if up.Poster != siteURL+"/"+base+"-poster.jpg" {
				t.Errorf("poster %q, want %s", up.Poster, siteURL+"/"+base+"-poster.jpg")
			}
			for _, p := range []string{base + "-poster.jpg", base + "-poster-120w.jpg"} {
				if !files[p] {
					t.Errorf("the commit lacks %s: %v", p, files)
				}
			}
			poster := e.remoteBlob(base + "-poster.jpg")
			if !strings.HasPrefix(string(poster), "\xff\xd8") {
				t.Errorf("the poster is not a JPEG")
			}
			if len(up.Thumbnails) != 1 || up.Thumbnails[0].URL != siteURL+"/"+base+"-poster-120w.jpg" ||
				up.Thumbnails[0].Width != 120 || up.Thumbnails[0].Height != 160 {
				t.Errorf("thumbnails %+v, want the poster's 120×160", up.Thumbnails)
			}
			again := e.upload(goodToken, "VID_0001 copy.mp4", mp4)
			var dup uploadResponse
			decode(t, again, &dup)
			if !dup.Duplicate || dup.URL != up.URL || dup.Poster != up.Poster || dup.Width != 240 || dup.Height != 320 {
				t.Errorf("duplicate: %+v, want the first upload's url, poster and size", dup)
			}
			// The delete takes the poster frame and its thumbnails too.
			del := e.postForm(deleteToken, url.Values{"action": {"delete"}, "url": {up.URL}})
			if del.StatusCode != http.StatusOK {
				wantError(t, del, http.StatusOK, "")
			}
			del.Body.Close()
			for _, f := range e.remoteFiles() {
				if strings.Contains(f, up.SHA256) {
					t.Errorf("after the delete the remote still holds %s", f)
				}
			}
		})
	}
}
