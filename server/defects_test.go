package server

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spano/hooks"
	"spano/internal/testphoto"
)

// TestSpoolDiskFailureIs500: when the store cannot write the spool file
// (no file descriptors left, a full or missing disk) the client is told
// the server failed, not that its body was malformed.
func TestSpoolDiskFailureIs500(t *testing.T) {
	e := newEnv(t, envOptions{})
	// The spool folder disappears under the store: CreateTemp fails as it
	// does when the process is out of file descriptors.
	if err := os.RemoveAll(filepath.Join(e.data, "tmp")); err != nil {
		t.Fatal(err)
	}
	got := wantError(t, e.upload(goodToken, "a.jpg", makeJPEG(t, 7, 40, 30)), http.StatusInternalServerError, codeServerError)
	if strings.Contains(got.Description, "malformed") {
		t.Errorf("description %q blames the client", got.Description)
	}
}

// TestCanceledUploadIsLogged499: a client that goes away while its upload
// is being worked on (here: while an upload hook scans it) is logged as
// 499 (client closed request), not as 200.
func TestCanceledUploadIsLogged499(t *testing.T) {
	runner, err := hooks.New([]hooks.Hook{{Name: "slow-scan", Events: []string{hooks.EventUpload},
		Command: []string{"sleep", "10"}, Timeout: 20 * time.Second}}, hooks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{hooks: runner})
	body, ct := multipartBody(t, part{name: "file", filename: "a.jpg", content: makeJPEG(t, 9, 40, 30)})
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+"/micropub/media", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+goodToken)
	req.Header.Set("Content-Type", ct)
	go func() {
		time.Sleep(500 * time.Millisecond) // the hook is running
		cancel()
	}()
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the upload was answered %s", resp.Status)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(e.logs.String(), "status=499") {
		if time.Now().After(deadline) {
			t.Fatalf("no request logged with status 499:\n%s", e.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Contains(e.logs.String(), "path=/micropub/media status=200") {
		t.Errorf("the canceled upload was logged as 200:\n%s", e.logs)
	}
}

// TestMarkupRefusalSaysMarkup: a JPEG carrying script markup is refused
// for the markup, not for its type, which the endpoint accepts.
func TestMarkupRefusalSaysMarkup(t *testing.T) {
	e := newEnv(t, envOptions{})
	polyglot := testphoto.WithSegment(makeJPEG(t, 8, 40, 30), 0xFE, []byte("<script>alert(1)</script>"))
	got := wantError(t, e.upload(goodToken, "x.jpg", polyglot), http.StatusUnsupportedMediaType, codeInvalidRequest)
	if !strings.Contains(got.Description, "markup") || strings.Contains(got.Description, "not accepted") {
		t.Errorf("description = %q, want one naming the markup", got.Description)
	}
}

// TestFileTooBigForGitIs413: without object storage, a file at least
// repo.max_file_size big is refused with 413 and told how to offload it;
// nothing is committed.
func TestFileTooBigForGitIs413(t *testing.T) {
	e := newEnv(t, envOptions{maxFileSize: 4000})
	before, err := e.repo.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := wantError(t, e.upload(goodToken, "big.jpg", makeJPEG(t, 10, 400, 300)), http.StatusRequestEntityTooLarge, codeInvalidRequest)
	if !strings.Contains(got.Description, "storage.s3") {
		t.Errorf("description = %q, want it to say how to offload", got.Description)
	}
	if after, _ := e.repo.Head(context.Background()); after != before {
		t.Errorf("head moved from %s to %s", before, after)
	}
	// A smaller file still goes in.
	e.uploaded("small.png", makeTinyPNG(t, 3))
}
