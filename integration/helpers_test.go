//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"spano/internal/gittest"
)

// bigFile is a generated test input on disk, with its hashes.
type bigFile struct {
	path   string
	size   int64
	sha256 string // as spano names it
	gitSHA string // its git blob id: what the remote would hold if it were committed
}

// fileHashes hashes what is written to it both ways.
type fileHashes struct {
	sum, blob hash.Hash
}

func newFileHashes(size int64) *fileHashes {
	h := &fileHashes{sum: sha256.New(), blob: sha1.New()}
	fmt.Fprintf(h.blob, "blob %d\x00", size)
	return h
}

func (h *fileHashes) Write(p []byte) (int, error) {
	h.sum.Write(p)
	return h.blob.Write(p)
}

// writeBig writes head, then random bytes from seed, to a file of size
// bytes in dir.
func writeBig(t testing.TB, dir, name string, head []byte, size int64, seed uint64) bigFile {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := newFileHashes(size)
	w := io.MultiWriter(f, h)
	if _, err := w.Write(head); err != nil {
		t.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 7})
	if _, err := io.CopyN(w, rng, size-int64(len(head))); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return bigFile{path: f.Name(), size: size, sha256: hex.EncodeToString(h.sum.Sum(nil)),
		gitSHA: hex.EncodeToString(h.blob.Sum(nil))}
}

// writeVideo writes an MP4 of about size bytes: a real one-second clip
// made with ffmpeg when it is installed, else an ftyp box alone, then a
// top-level free box of random bytes up to size (players and spano's
// parser skip free boxes).
func writeVideo(t testing.TB, dir, name string, size int64, seed uint64) bigFile {
	t.Helper()
	head := []byte("\x00\x00\x00\x1cftypisom\x00\x00\x02\x00isomiso2mp41")
	if ffmpeg, err := exec.LookPath("ffmpeg"); err == nil {
		clip := filepath.Join(dir, name+".clip.mp4")
		out, err := exec.Command(ffmpeg, "-nostdin", "-loglevel", "error", "-f", "lavfi",
			"-i", "testsrc=size=160x120:rate=10:duration=1", "-c:v", "mpeg4", "-pix_fmt", "yuv420p", "-y", clip).CombinedOutput()
		if err != nil {
			t.Fatalf("ffmpeg: %v: %s", err, out)
		}
		if head, err = os.ReadFile(clip); err != nil {
			t.Fatal(err)
		}
	}
	free := make([]byte, 8)
	binary.BigEndian.PutUint32(free, uint32(size-int64(len(head))))
	copy(free[4:], "free")
	return writeBig(t, dir, name, append(head, free...), size, seed)
}

// writeNoisePNG writes an opaque w×h PNG of noise, stored uncompressed:
// about 3·w·h bytes.
func writeNoisePNG(t testing.TB, dir, name string, w, h int, seed uint64) bigFile {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 9})
	rng.Read(img.Pix)
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 255
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.NoCompression}).Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	h2 := newFileHashes(int64(b.Len()))
	h2.Write(b.Bytes())
	return bigFile{path: path, size: int64(b.Len()), sha256: hex.EncodeToString(h2.sum.Sum(nil)),
		gitSHA: hex.EncodeToString(h2.blob.Sum(nil))}
}

// uploadFile streams the file at path as the file part named filename,
// never holding it in memory.
func (s *spano) uploadFile(ctx context.Context, filename, path string) (response, error) {
	f, err := os.Open(path)
	if err != nil {
		return response{}, err
	}
	defer f.Close()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		w, err := mw.CreateFormFile("file", filename)
		if err == nil {
			_, err = io.Copy(w, f)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	return s.post(ctx, mw.FormDataContentType(), pr)
}

// mustUploadFile uploads the file and fails the test unless the answer
// is 201 for its bytes.
func (s *spano) mustUploadFile(filename string, f bigFile) uploaded {
	s.t.Helper()
	r, err := s.uploadFile(context.Background(), filename, f.path)
	if err != nil {
		s.t.Fatalf("upload %s: %v", filename, err)
	}
	if r.status != http.StatusCreated {
		s.t.Fatalf("upload %s: status %d: %s", filename, r.status, r.body)
	}
	if r.up.SHA256 != f.sha256 || r.up.Size != f.size {
		s.t.Fatalf("upload %s: sha256 %s size %d, want %s %d", filename, r.up.SHA256, r.up.Size, f.sha256, f.size)
	}
	return r.up
}

// get sends an authorised GET of the endpoint with query q and decodes
// the JSON answer into v.
func (s *spano) get(q string, v any) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url("/micropub/media?"+q), nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("GET ?%s: %d %s", q, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		s.t.Fatalf("GET ?%s: %q: %v", q, b, err)
	}
}

// deleteMedia deletes the upload at u and fails the test unless the
// answer is 200.
func (s *spano) deleteMedia(u string) {
	s.t.Helper()
	form := url.Values{"action": {"delete"}, "url": {u}}
	req, err := http.NewRequest(http.MethodPost, s.url("/micropub/media"), strings.NewReader(form.Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("delete %s: %d %s", u, resp.StatusCode, b)
	}
}

// command runs a spano subcommand on s's config and returns its stdout
// and stderr, and whether it succeeded.
func (s *spano) command(args ...string) (stdout, stderr string, ok bool) {
	s.t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(spanoBin, append([]string{args[0], "-config", s.config}, args[1:]...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if _, exit := err.(*exec.ExitError); err != nil && !exit {
		s.t.Fatalf("spano %v: %v", args, err)
	}
	return out.String(), errb.String(), err == nil
}

// commits counts the commits on ref of the repository at dir.
func commits(t testing.TB, dir, ref string) int {
	t.Helper()
	n, err := strconv.Atoi(gittest.Git(t, dir, "rev-list", "--count", ref))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// gitObject is one object of a repository.
type gitObject struct {
	kind string
	size int64
}

// allObjects lists every object in the repository at dir, reachable or
// not, by id.
func allObjects(t testing.TB, dir string) map[string]gitObject {
	t.Helper()
	out := gittest.Git(t, dir, "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype) %(objectsize)")
	objs := map[string]gitObject{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		size, _ := strconv.ParseInt(f[2], 10, 64)
		objs[f[0]] = gitObject{kind: f[1], size: size}
	}
	return objs
}
