package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"spano/internal/gittest"
	"strings"
	"testing"
	"time"

	"spano/hooks"
)

// postForm sends a urlencoded body, with token in the header ("" for
// none).
func (e *env) postForm(token string, form url.Values) *http.Response {
	e.t.Helper()
	return e.post(token, []byte(form.Encode()), "application/x-www-form-urlencoded")
}

// deleted checks a 200 {"deleted": u}.
func deleted(t *testing.T, resp *http.Response, u string) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("delete: status %d: %s", resp.StatusCode, b)
	}
	var got map[string]string
	decode(t, resp, &got)
	if got["deleted"] != u {
		t.Errorf("delete answered %v, want deleted %s", got, u)
	}
}

// repoPathOf turns a published URL into the repository path.
func repoPathOf(u string) string { return strings.TrimPrefix(u, siteURL+"/") }

func TestDelete(t *testing.T) {
	e := newEnv(t, envOptions{})
	content := makeJPEG(t, 90, 700, 500)
	photo := e.uploaded("photo.jpg", content)
	other := e.uploaded("other.png", makeTinyPNG(t, 1))
	files := []string{repoPathOf(photo.URL)}
	for _, th := range photo.Thumbnails {
		files = append(files, repoPathOf(th.URL))
	}
	del := url.Values{"action": {"delete"}, "url": {photo.URL}}

	check := e.unchanged()
	wantError(t, e.postForm("", del), 401, codeUnauthorized)
	body := wantError(t, e.postForm(goodToken, del), 401, codeInsufficientScope)
	if body.Scope != "delete" {
		t.Errorf("scope = %q, want delete", body.Scope)
	}
	check()

	commitsBefore := e.remoteCommits()
	deleted(t, e.postForm(deleteToken, del), photo.URL)

	// One commit, pushed, removing the original and its thumbnails.
	if got, want := e.remoteCommits(), commitsBefore; got == want {
		t.Errorf("remote has %s commits after the delete, as before", got)
	}
	remote := e.remoteFiles()
	for _, f := range files {
		if slices.Contains(remote, f) {
			t.Errorf("%s still on the remote", f)
		}
	}
	if !slices.Contains(remote, repoPathOf(other.URL)) {
		t.Errorf("the other file went too")
	}
	msg := gittest.Git(t, e.remote, "log", "-1", "--format=%B", "main")
	for _, want := range []string{
		"Delete " + photo.SHA256[:12] + ".jpg\n", "Media-SHA256: " + photo.SHA256, "Media-Type: image/jpeg",
		"Media-Width: 700", "Media-Height: 500", "Media-Filename: photo.jpg",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("delete commit message lacks %q:\n%s", want, msg)
		}
	}
	changed := strings.Fields(gittest.Git(t, e.remote, "diff-tree", "--no-commit-id", "--name-only", "-r", "main"))
	slices.Sort(changed)
	slices.Sort(files)
	if !slices.Equal(changed, files) {
		t.Errorf("delete commit changed %v, want %v", changed, files)
	}
	// History keeps the bytes.
	gittest.Git(t, e.remote, "cat-file", "-e", "main~1:"+files[0])

	// Gone from the queries; a second delete is a 400.
	wantError(t, e.get(goodToken, "q=source&url="+url.QueryEscape(photo.URL)), 400, codeInvalidRequest)
	var last map[string]string
	e.getJSON("q=last", &last)
	if last["url"] != other.URL {
		t.Errorf("q=last after delete = %v, want %s", last, other.URL)
	}
	wantError(t, e.postForm(deleteToken, del), 400, codeInvalidRequest)

	// The same bytes again restore the file and its thumbnails, newest.
	again := e.uploaded("photo.jpg", content)
	if again.Duplicate || again.URL != photo.URL || len(again.Thumbnails) != 2 || !again.Pushed {
		t.Errorf("re-upload after delete = %+v", again)
	}
	remote = e.remoteFiles()
	for _, f := range files {
		if !slices.Contains(remote, f) {
			t.Errorf("%s not restored on the remote", f)
		}
	}
	e.getJSON("q=last", &last)
	if last["url"] != photo.URL {
		t.Errorf("q=last after re-upload = %v, want %s", last, photo.URL)
	}
}

// Delete in each body Micropub clients send, with the token in the body
// or the header.
func TestDeleteBodies(t *testing.T) {
	e := newEnv(t, envOptions{})
	tests := []struct {
		name string
		send func(u string) *http.Response
	}{
		{name: "urlencoded, token in body", send: func(u string) *http.Response {
			return e.postForm("", url.Values{"action": {"delete"}, "url": {u}, "access_token": {deleteToken}})
		}},
		{name: "json, token in header", send: func(u string) *http.Response {
			b, _ := json.Marshal(map[string]string{"action": "delete", "url": u})
			return e.post(deleteToken, b, "application/json")
		}},
		{name: "json, token in body", send: func(u string) *http.Response {
			b, _ := json.Marshal(map[string]string{"action": "delete", "url": u, "access_token": deleteToken})
			return e.post("", b, "application/json; charset=utf-8")
		}},
		{name: "multipart without a file, token in header", send: func(u string) *http.Response {
			b, ct := multipartBody(t, part{name: "action", content: []byte("delete")}, part{name: "url", content: []byte(u)})
			return e.post(deleteToken, b, ct)
		}},
		{name: "multipart without a file, token in body", send: func(u string) *http.Response {
			b, ct := multipartBody(t, part{name: "url", content: []byte(u)}, part{name: "action", content: []byte("delete")},
				part{name: "access_token", content: []byte(deleteToken)})
			return e.post("", b, ct)
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := e.uploaded("x.png", makeTinyPNG(t, 100+i)).URL
			deleted(t, tt.send(u), u)
			if slices.Contains(e.remoteFiles(), repoPathOf(u)) {
				t.Errorf("%s still on the remote", u)
			}
		})
	}
}

func TestDeleteErrors(t *testing.T) {
	e := newEnv(t, envOptions{})
	photo := e.uploaded("photo.jpg", makeJPEG(t, 91, 400, 300))
	check := e.unchanged()
	form := func(kv ...string) []byte {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return []byte(v.Encode())
	}
	const urlencoded = "application/x-www-form-urlencoded"
	mp, mpType := multipartBody(t, part{name: "action", content: []byte("delete")}, part{name: "url", content: []byte(photo.URL)},
		part{name: "file", filename: "a.png", content: makeTinyPNG(t, 5)})
	tests := []struct {
		name        string
		token       string
		body        []byte
		contentType string
		wantStatus  int
		wantCode    string
	}{
		{name: "no url", token: deleteToken, body: form("action", "delete"), contentType: urlencoded, wantStatus: 400, wantCode: codeInvalidRequest},
		{name: "unknown url", token: deleteToken, body: form("action", "delete", "url", siteURL+"/media/00/00/"+zeros+".jpg"), contentType: urlencoded, wantStatus: 400, wantCode: codeInvalidRequest},
		{name: "thumbnail url", token: deleteToken, body: form("action", "delete", "url", photo.Thumbnails[0].URL), contentType: urlencoded, wantStatus: 400, wantCode: codeInvalidRequest},
		{name: "another site", token: deleteToken, body: form("action", "delete", "url", "https://evil.example/media/x.jpg"), contentType: urlencoded, wantStatus: 400, wantCode: codeInvalidRequest},
		{name: "unsupported action", token: deleteToken, body: form("action", "undelete", "url", photo.URL), contentType: urlencoded, wantStatus: 400, wantCode: codeInvalidRequest},
		{name: "no action", token: deleteToken, body: form("url", photo.URL), contentType: urlencoded, wantStatus: 400, wantCode: codeInvalidRequest},
		{name: "malformed json", token: deleteToken, body: []byte(`{"action":`), contentType: "application/json", wantStatus: 400, wantCode: codeInvalidRequest},
		{name: "token twice", token: deleteToken, body: form("action", "delete", "url", photo.URL, "access_token", deleteToken), contentType: urlencoded, wantStatus: 400, wantCode: codeInvalidRequest},
		{name: "bad token", token: unknownToken, body: form("action", "delete", "url", photo.URL), contentType: urlencoded, wantStatus: 401, wantCode: codeInvalidToken},
		{name: "upload token", token: goodToken, body: form("action", "delete", "url", photo.URL), contentType: urlencoded, wantStatus: 401, wantCode: codeInsufficientScope},
		{name: "multipart delete with a file", token: deleteToken, body: mp, contentType: mpType, wantStatus: 400, wantCode: codeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, e.post(tt.token, tt.body, tt.contentType), tt.wantStatus, tt.wantCode)
		})
	}
	// A delete-only token may not upload.
	wantError(t, e.upload(deleteToken, "a.png", makeTinyPNG(t, 6)), 401, codeInsufficientScope)
	check()
}

func TestDeletePushFailed(t *testing.T) {
	e := newEnv(t, envOptions{})
	photo := e.uploaded("photo.jpg", makeJPEG(t, 92, 400, 300))
	moved := e.remote + ".away"
	if err := rename(e.remote, moved); err != nil {
		t.Fatal(err)
	}
	resp := e.postForm(deleteToken, url.Values{"action": {"delete"}, "url": {photo.URL}})
	wantError(t, resp, 503, codeUnavailable)
	if err := rename(moved, e.remote); err != nil {
		t.Fatal(err)
	}
	// Deleted here all the same; the next push carries it.
	wantError(t, e.get(goodToken, "q=source&url="+url.QueryEscape(photo.URL)), 400, codeInvalidRequest)
	e.uploaded("next.png", makeTinyPNG(t, 7))
	if slices.Contains(e.remoteFiles(), repoPathOf(photo.URL)) {
		t.Errorf("deleted file still on the remote after the next push")
	}
}

func TestDeleteHook(t *testing.T) {
	out := filepath.Join(t.TempDir(), "events")
	runner, err := hooks.New([]hooks.Hook{{
		Name: "log", Events: []string{hooks.EventDeleted},
		Command: []string{"sh", "-c", `echo "$SPANO_EVENT $SPANO_URL $SPANO_SHA256" >> "$OUT"`},
	}}, hooks.Options{Env: append(os.Environ(), "OUT="+out)})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{hooks: runner})
	photo := e.uploaded("photo.jpg", makeJPEG(t, 93, 400, 300))
	deleted(t, e.postForm(deleteToken, url.Values{"action": {"delete"}, "url": {photo.URL}}), photo.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := runner.Close(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "deleted " + photo.URL + " " + photo.SHA256 + "\n"; !bytes.Equal(b, []byte(want)) {
		t.Errorf("hook saw %q, want %q", b, want)
	}
}
