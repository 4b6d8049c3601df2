//go:build integration

package integration

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"spano/internal/gittest"
	"strings"
	"testing"
	"time"
)

// hookLimit is the size over which the remote's pre-receive hook refuses
// a blob, standing in for GitHub's 100 MB.
const hookLimit = 1_000_000

// noisyPNG is a PNG of random pixels, which does not compress: about
// 4·w·h bytes.
func noisyPNG(seed uint64, w, h int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(rng.Uint32())
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// unblock runs spano unblock on s's config.
func (s *spano) unblock(args ...string) (string, error) {
	cmd := exec.Command(spanoBin, append([]string{"unblock", "-config", s.config}, args...)...)
	out, err := cmd.CombinedOutput()
	fmt.Fprintf(s.log, "=== spano unblock %s\n%s", strings.Join(args, " "), out)
	return string(out), err
}

// TestRemoteRefusesLargeFile: the remote refuses a file over its limit
// that spano accepted (repo.max_file_size raised above it). Sync uploads:
// the one before is pushed; the big one gets 503 and is reported once,
// loudly; the one after tries once and gets 503; nothing retries in a
// loop. spano unblock, refused while serve runs, drops the big commit
// once serve is stopped, keeps it in the clone, and pushes the other;
// the next serve pushes as before.
func TestRemoteRefusesLargeFile(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	pushes := gittest.RefuseBlobsOver(t, remote, hookLimit)
	s := newSpano(t, "spano", options{remote: remote, push: "sync", maxFile: "200MB"})
	s.start()

	first := s.mustUpload("first.png", pngImage(1))
	big := noisyPNG(7, 700, 500)
	if len(big) <= hookLimit {
		t.Fatalf("the big file is only %d bytes", len(big))
	}
	r, err := s.upload(t.Context(), "big.png", big)
	if err != nil || r.status != http.StatusServiceUnavailable || r.retryAfter == "" {
		t.Fatalf("big upload: %v, status %d (Retry-After %q): %s", err, r.status, r.retryAfter, r.body)
	}
	third := pngImage(3)
	r, err = s.upload(t.Context(), "third.png", third)
	if err != nil || r.status != http.StatusServiceUnavailable {
		t.Fatalf("upload behind the refused one: %v, status %d: %s", err, r.status, r.body)
	}
	if !strings.Contains(string(r.body), "spano unblock") {
		t.Errorf("the 503 does not say how to unblock: %s", r.body)
	}
	// A retry loop, even at the first backoff of 1 s, would push again
	// within this time.
	time.Sleep(3 * time.Second)
	// The first upload's push, the big one's, then the third's one try:
	// the chain, then the big commit alone.
	if got, want := pushes(), 4; got != want {
		t.Errorf("the remote saw %d pushes, want %d: the refused push is retried", got, want)
	}
	log := s.log.String()
	if n := strings.Count(log, "the remote refuses a commit and will keep refusing it"); n != 1 {
		t.Errorf("the refusal is logged %d times, want once", n)
	}
	if !strings.Contains(log, "GH001: Large files detected") {
		t.Error("the log does not give the remote's reason")
	}
	bigCommit := gittest.Git(t, s.repo, "log", "-1", "--format=%H", "--grep=Media-SHA256: "+digest(big), "main")
	if bigCommit == "" {
		t.Fatal("the big upload is not committed in spano's clone")
	}
	if out, err := s.unblock(); err == nil || !strings.Contains(out, "stop spano serve") {
		t.Errorf("unblock while serve runs: %v: %s", err, out)
	}

	s.stop()
	out, err := s.unblock()
	if err != nil {
		t.Fatalf("unblock: %v\n%s", err, out)
	}
	if !strings.Contains(out, "dropped "+bigCommit) || !strings.Contains(out, "pushed the others") {
		t.Errorf("unblock said:\n%s", out)
	}
	if got := missing(t, remote, []string{first.SHA256, digest(third)}); got != "" {
		t.Error(got)
	}
	for p := range files(t, remote, "main") {
		if strings.Contains(p, digest(big)) {
			t.Errorf("the remote has the refused file %s", p)
		}
	}
	if got := gittest.Git(t, s.repo, "rev-parse", "refs/spano/refused/"+bigCommit); got != bigCommit {
		t.Errorf("refs/spano/refused/%s = %s", bigCommit, got)
	}
	if !isAncestor(t, remote, first.Commit, "main") {
		t.Error("the first upload's commit left the remote's history: a force push")
	}

	s.start()
	fourth := s.mustUpload("fourth.png", pngImage(4))
	if !fourth.Pushed {
		t.Error("the upload after unblock is not pushed")
	}
	for _, dir := range []string{remote, s.repo} {
		gittest.Fsck(t, dir)
		linear(t, dir, "main")
	}
}
