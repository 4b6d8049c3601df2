package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"spano/hooks"
	"spano/internal/gittest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mediaPath matches the only paths uploads may create.
var mediaPath = regexp.MustCompile(`^media/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}(-[1-9][0-9]*w)?\.(jpg|png|gif|mp4|mp3)$`)

func TestUploadStoresImages(t *testing.T) {
	e := newEnv(t, envOptions{})
	tests := []struct {
		name       string
		filename   string
		content    []byte
		wantType   string
		wantExt    string
		wantW      int
		wantH      int
		wantThumbs []int
	}{
		{name: "jpeg", filename: "photo.jpg", content: makeJPEG(t, 1, 800, 600),
			wantType: "image/jpeg", wantExt: "jpg", wantW: 800, wantH: 600, wantThumbs: []int{320, 640}},
		{name: "png", filename: "drawing.png", content: makePNG(t, 2, 400, 300),
			wantType: "image/png", wantExt: "png", wantW: 400, wantH: 300, wantThumbs: []int{320}},
		{name: "large gif", filename: "anim.gif", content: makeGIF(t, 3, 1000, 820, 3),
			wantType: "image/gif", wantExt: "gif", wantW: 1000, wantH: 820, wantThumbs: []int{320, 640}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantType == "image/gif" && len(tt.content) < 2_400_000 {
				t.Fatalf("test GIF is %d bytes, want at least 2.4 MB", len(tt.content))
			}
			before := e.remoteCommits()
			resp := e.upload(goodToken, tt.filename, tt.content)
			if resp.StatusCode != http.StatusCreated {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("status = %d, want 201; body %s", resp.StatusCode, b)
			}
			var got uploadResponse
			decode(t, resp, &got)

			sum := sha256.Sum256(tt.content)
			hash := hex.EncodeToString(sum[:])
			wantURL := siteURL + "/media/" + hash[:2] + "/" + hash[2:4] + "/" + hash + "." + tt.wantExt
			if got.URL != wantURL {
				t.Errorf("url = %q, want %q", got.URL, wantURL)
			}
			if loc := resp.Header.Get("Location"); loc != wantURL {
				t.Errorf("Location = %q, want %q", loc, wantURL)
			}
			if got.SHA256 != hash || got.Type != tt.wantType || got.Size != int64(len(tt.content)) {
				t.Errorf("sha256, type, size = %s, %s, %d; want %s, %s, %d", got.SHA256, got.Type, got.Size, hash, tt.wantType, len(tt.content))
			}
			if got.Width != tt.wantW || got.Height != tt.wantH {
				t.Errorf("size = %dx%d, want %dx%d", got.Width, got.Height, tt.wantW, tt.wantH)
			}
			if got.Duplicate || !got.Pushed || got.Commit == "" {
				t.Errorf("duplicate, pushed, commit = %v, %v, %q; want false, true, a hash", got.Duplicate, got.Pushed, got.Commit)
			}
			var widths []int
			for _, th := range got.Thumbnails {
				widths = append(widths, th.Width)
				wantThumb := fmt.Sprintf("%s/media/%s/%s/%s-%dw.", siteURL, hash[:2], hash[2:4], hash, th.Width)
				if !strings.HasPrefix(th.URL, wantThumb) {
					t.Errorf("thumbnail url = %q, want prefix %q", th.URL, wantThumb)
				}
				if wantH := tt.wantH * th.Width / tt.wantW; th.Height < wantH-1 || th.Height > wantH+1 {
					t.Errorf("thumbnail %d high %d, want about %d", th.Width, th.Height, wantH)
				}
			}
			if !slices.Equal(widths, tt.wantThumbs) {
				t.Errorf("thumbnail widths = %v, want %v", widths, tt.wantThumbs)
			}

			// One commit on the remote, holding the original and its thumbnails.
			if got, want := e.remoteCommits(), fmt.Sprint(atoi(t, before)+1); got != want {
				t.Errorf("remote has %s commits, want %s", got, want)
			}
			if head := gittest.Git(t, e.remote, "rev-parse", "main"); head != got.Commit {
				t.Errorf("remote head %s, response commit %s", head, got.Commit)
			}
			files := gittest.Git(t, e.remote, "show", "--name-only", "--format=", "main")
			if n := strings.Count(files, "\n") + 1; n != 1+len(tt.wantThumbs) {
				t.Errorf("commit holds %d files, want %d:\n%s", n, 1+len(tt.wantThumbs), files)
			}
			stored := gittest.Git(t, e.remote, "cat-file", "blob", "main:"+strings.TrimPrefix(got.URL, siteURL+"/"))
			if stored != strings.TrimSpace(string(tt.content)) {
				t.Errorf("stored bytes differ from the upload")
			}
			msg := gittest.Git(t, e.remote, "log", "-1", "--format=%B", "main")
			for _, want := range []string{
				"Add " + hash[:12] + "." + tt.wantExt + " (" + tt.filename + ")",
				"Media-SHA256: " + hash,
				"Media-Type: " + tt.wantType,
				fmt.Sprintf("Media-Size: %d", len(tt.content)),
				"Media-Filename: " + tt.filename,
			} {
				if !strings.Contains(msg, want) {
					t.Errorf("commit message lacks %q:\n%s", want, msg)
				}
			}
			if strings.Contains(msg, "Media-Client") {
				t.Errorf("static tokens have no client, but the message names one:\n%s", msg)
			}
		})
	}
	if out := gittest.Git(t, e.remote, "fsck", "--strict"); strings.Contains(out, "error") {
		t.Errorf("git fsck --strict: %s", out)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestUploadDuplicate(t *testing.T) {
	e := newEnv(t, envOptions{})
	content := makeJPEG(t, 10, 400, 300)
	var first, second uploadResponse
	resp := e.upload(goodToken, "a.jpg", content)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("first upload: status %d", resp.StatusCode)
	}
	decode(t, resp, &first)
	check := e.unchanged()

	resp = e.upload(goodToken, "b.jpg", content)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("second upload: status %d", resp.StatusCode)
	}
	decode(t, resp, &second)
	check()
	if !second.Duplicate || first.Duplicate {
		t.Errorf("duplicate = %v then %v, want false then true", first.Duplicate, second.Duplicate)
	}
	if second.URL != first.URL || second.Commit != first.Commit {
		t.Errorf("second upload: url %s commit %s, want %s %s", second.URL, second.Commit, first.URL, first.Commit)
	}
	if len(second.Thumbnails) != len(first.Thumbnails) || len(second.Thumbnails) == 0 {
		t.Errorf("thumbnails: %d then %d", len(first.Thumbnails), len(second.Thumbnails))
	}
}

// TestUploadConcurrentIdenticalMakeOneCommit: uploads of the same bytes
// at once all pass the early duplicate check (the index has not seen the
// bytes yet), so the writer's own check at commit time decides: one
// commit, one answer "new", the same URL for all.
func TestUploadConcurrentIdenticalMakeOneCommit(t *testing.T) {
	e := newEnv(t, envOptions{})
	content := makePNG(t, 20, 200, 150)
	before := atoi(t, e.remoteCommits())

	const n = 16
	var wg sync.WaitGroup
	answers := make([]uploadResponse, n)
	statuses := make([]int, n)
	for i := range n {
		wg.Go(func() {
			resp := e.upload(goodToken, "same.png", content)
			statuses[i] = resp.StatusCode
			if resp.StatusCode == http.StatusCreated {
				decode(t, resp, &answers[i])
			} else {
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	fresh := 0
	for i, a := range answers {
		if statuses[i] != http.StatusCreated || a.URL != answers[0].URL {
			t.Errorf("upload %d: status %d url %q; want 201 and %q", i, statuses[i], a.URL, answers[0].URL)
		}
		if !a.Duplicate {
			fresh++
		}
	}
	if fresh != 1 {
		t.Errorf("%d uploads answered as new, want 1", fresh)
	}
	if got, want := atoi(t, e.remoteCommits()), before+1; got != want {
		t.Errorf("remote has %d commits, want %d: identical uploads must make one commit", got, want)
	}
}

func TestUploadConcurrentDistinct(t *testing.T) {
	e := newEnv(t, envOptions{})
	const workers, each = 32, 4
	var wg sync.WaitGroup
	var mu sync.Mutex
	var urls []string
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				resp := e.upload(goodToken, fmt.Sprintf("w%d-%d.png", w, i), makeTinyPNG(t, w*each+i+1))
				if resp.StatusCode != http.StatusCreated {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					t.Errorf("worker %d file %d: status %d %s", w, i, resp.StatusCode, b)
					continue
				}
				var body uploadResponse
				decode(t, resp, &body)
				mu.Lock()
				urls = append(urls, body.URL)
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	files := e.remoteFiles()
	for _, u := range urls {
		if p := strings.TrimPrefix(u, siteURL+"/"); !slices.Contains(files, p) {
			t.Errorf("%s is not on the remote", p)
		}
	}
	if got := len(slices.Compact(slices.Sorted(slices.Values(urls)))); got != workers*each {
		t.Errorf("%d distinct URLs, want %d", got, workers*each)
	}
	if got, want := len(files), workers*each+1; got != want { // + index.md
		t.Errorf("remote holds %d files, want %d", got, want)
	}
	if out := gittest.Git(t, e.remote, "fsck", "--strict"); strings.Contains(out, "error") {
		t.Errorf("git fsck --strict: %s", out)
	}
}

func TestUploadErrors(t *testing.T) {
	e := newEnv(t, envOptions{})
	jpg := makeJPEG(t, 30, 64, 48)
	gifHead := makeGIF(t, 31, 4, 4, 1)
	bigJPG := makeJPEG(t, 33, 400, 300) // wide enough to be decoded for thumbnails
	one := func(p ...part) func(t *testing.T) *http.Response {
		return func(t *testing.T) *http.Response {
			body, ct := multipartBody(t, p...)
			return e.post(goodToken, body, ct)
		}
	}
	file := func(content []byte) part { return part{name: "file", filename: "x", content: content} }
	tests := []struct {
		name       string
		send       func(t *testing.T) *http.Response
		wantStatus int
		wantCode   string
	}{
		{name: "not multipart", wantStatus: 400, wantCode: codeInvalidRequest,
			send: func(t *testing.T) *http.Response {
				return e.post(goodToken, []byte("h=entry&content=hi"), "application/x-www-form-urlencoded")
			}},
		{name: "multipart without boundary", wantStatus: 400, wantCode: codeInvalidRequest,
			send: func(t *testing.T) *http.Response { return e.post(goodToken, jpg, "multipart/form-data") }},
		{name: "malformed multipart", wantStatus: 400, wantCode: codeInvalidRequest,
			send: func(t *testing.T) *http.Response {
				return e.post(goodToken, []byte("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n"+string(jpg)),
					"multipart/form-data; boundary=b")
			}},
		{name: "no file", wantStatus: 400, wantCode: codeInvalidRequest,
			send: one(part{name: "h", content: []byte("entry")})},
		{name: "file part under another name", wantStatus: 400, wantCode: codeInvalidRequest,
			send: one(part{name: "photo", filename: "a.jpg", content: jpg})},
		{name: "two files", wantStatus: 400, wantCode: codeInvalidRequest,
			send: one(file(jpg), part{name: "file[]", filename: "b.jpg", content: makeJPEG(t, 32, 64, 48)})},
		{name: "empty file", wantStatus: 400, wantCode: codeInvalidRequest, send: one(file(nil))},
		{name: "no token", wantStatus: 401, wantCode: codeUnauthorized,
			send: func(t *testing.T) *http.Response {
				body, ct := multipartBody(t, file(jpg))
				return e.post("", body, ct)
			}},
		{name: "unknown token", wantStatus: 401, wantCode: codeInvalidToken,
			send: func(t *testing.T) *http.Response {
				body, ct := multipartBody(t, file(jpg))
				return e.post(unknownToken, body, ct)
			}},
		{name: "unknown token in the body", wantStatus: 401, wantCode: codeInvalidToken,
			send: func(t *testing.T) *http.Response {
				body, ct := multipartBody(t, file(jpg), part{name: "access_token", content: []byte(unknownToken)})
				return e.post("", body, ct)
			}},
		{name: "token lacks scope", wantStatus: 401, wantCode: codeInsufficientScope,
			send: func(t *testing.T) *http.Response {
				body, ct := multipartBody(t, file(jpg))
				return e.post(deleteToken, body, ct)
			}},
		{name: "token in header and body", wantStatus: 400, wantCode: codeInvalidRequest,
			send: one(file(jpg), part{name: "access_token", content: []byte(goodToken)})},
		{name: "token twice in the body", wantStatus: 400, wantCode: codeInvalidRequest,
			send: func(t *testing.T) *http.Response {
				body, ct := multipartBody(t, part{name: "access_token", content: []byte(goodToken)}, file(jpg),
					part{name: "access_token", content: []byte(goodToken)})
				return e.post("", body, ct)
			}},
		{name: "too large, with Content-Length", wantStatus: 413, wantCode: codeInvalidRequest,
			send: one(file(append(bytes.Clone(jpg), make([]byte, testMaxSize+(2<<20))...)))},
		{name: "too large, streamed", wantStatus: 413, wantCode: codeInvalidRequest,
			send: func(t *testing.T) *http.Response {
				body, ct := multipartBody(t, file(append(bytes.Clone(jpg), make([]byte, testMaxSize)...)))
				req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/micropub/media", io.MultiReader(bytes.NewReader(body)))
				req.Header.Set("Content-Type", ct)
				req.Header.Set("Authorization", "Bearer "+goodToken)
				return e.do(req)
			}},
		{name: "html", wantStatus: 415, wantCode: codeInvalidRequest,
			send: one(file([]byte("<!DOCTYPE html><html><body><script>alert(1)</script></body></html>")))},
		{name: "svg", wantStatus: 415, wantCode: codeInvalidRequest,
			send: one(file([]byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`)))},
		{name: "text", wantStatus: 415, wantCode: codeInvalidRequest,
			send: one(file([]byte("just some words\n")))},
		{name: "html after a gif header", wantStatus: 415, wantCode: codeInvalidRequest,
			send: one(file(append(bytes.Clone(gifHead[:13]), []byte("<html><script>alert(document.domain)</script></html>")...)))},
		{name: "undecodable image", wantStatus: 422, wantCode: codeInvalidRequest,
			send: one(file(append(bytes.Clone(bigJPG[:len(bigJPG)/3]), make([]byte, 100)...)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := e.unchanged()
			resp := tt.send(t)
			wantError(t, resp, tt.wantStatus, tt.wantCode)
			switch tt.wantStatus {
			case 401:
				if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate = %q, want Bearer…", resp.Header.Get("WWW-Authenticate"))
				}
			}
			check()
		})
	}
	if left := spooled(t, e); len(left) > 0 {
		t.Errorf("temp files left behind: %v", left)
	}
}

// TestInsufficientScopeIs401: Micropub §3.8 (micropub.rocks test 804)
// wants 401 insufficient_scope, with the scopes that would do in the body
// and in the WWW-Authenticate challenge, for uploads, queries and delete.
func TestInsufficientScopeIs401(t *testing.T) {
	e := newEnv(t, envOptions{})
	photo := e.uploaded("a.jpg", makeJPEG(t, 40, 32, 32))
	body, ct := multipartBody(t, part{name: "file", filename: "b.jpg", content: makeJPEG(t, 41, 32, 32)})
	queryReq, err := http.NewRequest(http.MethodGet, e.srv.URL+"/micropub/media?q=source", nil)
	if err != nil {
		t.Fatal(err)
	}
	queryReq.Header.Set("Authorization", "Bearer "+deleteToken)
	query, err := http.DefaultClient.Do(queryReq)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		resp      *http.Response
		wantScope string
	}{
		{"upload", e.post(deleteToken, body, ct), "media create"},
		{"query", query, "media create"},
		{"delete", e.postForm(goodToken, url.Values{"action": {"delete"}, "url": {photo.URL}}), "delete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			challenge := tt.resp.Header.Get("WWW-Authenticate")
			got := wantError(t, tt.resp, http.StatusUnauthorized, codeInsufficientScope)
			if got.Scope != tt.wantScope {
				t.Errorf("scope = %q, want %q", got.Scope, tt.wantScope)
			}
			if want := `Bearer error="insufficient_scope", scope="` + tt.wantScope + `"`; challenge != want {
				t.Errorf("WWW-Authenticate = %q, want %q", challenge, want)
			}
		})
	}
}

func TestUploadTokenAfterFileInBody(t *testing.T) {
	e := newEnv(t, envOptions{})
	body, ct := multipartBody(t,
		part{name: "file", filename: "late-token.jpg", content: makeJPEG(t, 41, 64, 64)},
		part{name: "h", content: []byte("entry")},
		part{name: "access_token", content: []byte(goodToken)})
	resp := e.post("", body, ct)
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status = %d, want 201: %s", resp.StatusCode, b)
	}
	resp.Body.Close()
}

func TestUploadFilenameCannotEscape(t *testing.T) {
	e := newEnv(t, envOptions{})
	tests := []struct {
		name, filename, wantName string
	}{
		{name: "dot dot slash", filename: "../../../../etc/passwd.jpg", wantName: "passwd.jpg"},
		{name: "backslashes", filename: `..\..\evil\x.jpg`, wantName: "x.jpg"},
		{name: "only dots", filename: "..", wantName: ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.upload(goodToken, tt.filename, makeJPEG(t, uint64(50+i), 40, 30))
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("status = %d", resp.StatusCode)
			}
			var got uploadResponse
			decode(t, resp, &got)
			subject := gittest.Git(t, e.remote, "log", "-1", "--format=%s", "main")
			want := "Add " + got.SHA256[:12] + ".jpg"
			if tt.wantName != "" {
				want += " (" + tt.wantName + ")"
			}
			if subject != want {
				t.Errorf("subject = %q, want %q", subject, want)
			}
			for _, f := range e.remoteFiles() {
				if f != "index.md" && !mediaPath.MatchString(f) {
					t.Errorf("file outside the content-addressed layout: %q", f)
				}
			}
		})
	}
}

func TestUploadVetoedByHook(t *testing.T) {
	e := newEnv(t, envOptions{hooks: vetoHooks(t)})
	check := e.unchanged()
	got := wantError(t, e.upload(goodToken, "a.jpg", makeJPEG(t, 60, 64, 64)), 422, codeInvalidRequest)
	check()
	if !strings.Contains(got.Description, "virus found") {
		t.Errorf("description = %q, want the hook's message", got.Description)
	}
}

func TestUploadTooManyPixels(t *testing.T) {
	e := newEnv(t, envOptions{maxPixels: 100 * 100})
	check := e.unchanged()
	wantError(t, e.upload(goodToken, "big.png", makePNG(t, 61, 200, 200)), 422, codeInvalidRequest)
	check()
}

func TestUploadPushFailed(t *testing.T) {
	e := newEnv(t, envOptions{})
	content := makeJPEG(t, 70, 120, 90)
	remoteBefore := gittest.Git(t, e.remote, "rev-parse", "main")
	moved := e.remote + ".away"
	if err := rename(e.remote, moved); err != nil {
		t.Fatal(err)
	}
	resp := e.upload(goodToken, "a.jpg", content)
	wantError(t, resp, 503, codeUnavailable)
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}
	if err := rename(moved, e.remote); err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, e.remote, "rev-parse", "main"); got != remoteBefore {
		t.Errorf("remote moved to %s although it was unreachable", got)
	}

	// The commit stayed; the client's retry gets 201 once the remote is back.
	resp = e.upload(goodToken, "a.jpg", content)
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("retry: status %d %s", resp.StatusCode, b)
	}
	var got uploadResponse
	decode(t, resp, &got)
	if !got.Pushed {
		t.Errorf("retry: pushed = false")
	}
	if p := strings.TrimPrefix(got.URL, siteURL+"/"); !slices.Contains(e.remoteFiles(), p) {
		t.Errorf("%s not on the remote after recovery", p)
	}
}

// TestDuplicateAnsweredFromIndex: the same bytes again get the first
// upload's answer (URL, size, thumbnails) without running the upload
// hook or the image work again.
func TestDuplicateAnsweredFromIndex(t *testing.T) {
	runs := filepath.Join(t.TempDir(), "runs")
	h, err := hooks.New([]hooks.Hook{{
		Name: "scan", Events: []string{hooks.EventUpload},
		Command: []string{"sh", "-c", `echo scanned >> "$0"`, runs},
	}}, hooks.Options{Env: os.Environ()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	e := newEnv(t, envOptions{hooks: h})
	photo := makeJPEG(t, 31, 800, 600)

	var first, second uploadResponse
	decode(t, e.upload(goodToken, "a.jpg", photo), &first)
	decode(t, e.upload(goodToken, "b.jpg", photo), &second)
	if first.Duplicate || !second.Duplicate {
		t.Fatalf("duplicate flags: first %v, second %v", first.Duplicate, second.Duplicate)
	}
	second.Duplicate, second.Commit = first.Duplicate, first.Commit
	if diff := cmp.Diff(second, first); diff != "" {
		t.Errorf("duplicate's answer differs from the first (-dup +first):\n%s", diff)
	}
	b, _ := os.ReadFile(runs)
	if got := strings.Count(string(b), "scanned"); got != 1 {
		t.Errorf("upload hook ran %d times, want once (not for the duplicate)", got)
	}
}
