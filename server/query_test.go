package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"spano/internal/gittest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"spano/record"
	"spano/repo"
)

// get sends GET {endpoint}?query with token in the header ("" for none).
func (e *env) get(token, query string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/micropub/media?"+query, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.do(req)
}

// getJSON sends a query that must succeed and decodes its JSON body.
func (e *env) getJSON(query string, v any) {
	e.t.Helper()
	resp := e.get(goodToken, query)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		e.t.Fatalf("GET ?%s: status %d: %s", query, resp.StatusCode, b)
	}
	if got, want := resp.Header.Get("Content-Type"), "application/json"; got != want {
		e.t.Errorf("GET ?%s: Content-Type = %q, want %q", query, got, want)
	}
	decode(e.t, resp, v)
}

// uploaded posts content and returns the 201 body.
func (e *env) uploaded(filename string, content []byte) uploadResponse {
	e.t.Helper()
	resp := e.upload(goodToken, filename, content)
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		e.t.Fatalf("upload %s: status %d: %s", filename, resp.StatusCode, b)
	}
	var got uploadResponse
	decode(e.t, resp, &got)
	return got
}

// source is the decoded body of q=source.
type source struct {
	Items  []sourceItem `json:"items"`
	Paging struct {
		After *string `json:"after"`
	} `json:"paging"`
}

func urls(items []sourceItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.URL
	}
	return out
}

func TestQueryEmpty(t *testing.T) {
	e := newEnv(t, envOptions{})
	var got source
	e.getJSON("q=source", &got)
	if got.Items == nil || len(got.Items) != 0 || got.Paging.After != nil {
		t.Errorf("q=source on an empty site = %+v, want no items and no cursor", got)
	}
	var last map[string]any
	e.getJSON("q=last", &last)
	if len(last) != 0 {
		t.Errorf("q=last on an empty site = %v, want {}", last)
	}
	var cfg struct {
		Endpoint string   `json:"media-endpoint"`
		Q        []string `json:"q"`
	}
	e.getJSON("q=config", &cfg)
	if diff := cmp.Diff(cfg.Q, []string{"config", "source", "last"}); diff != "" {
		t.Errorf("q=config q (-got +want):\n%s", diff)
	}
}

func TestQuerySource(t *testing.T) {
	e := newEnv(t, envOptions{})
	// Newest first: the MP3, the JPEG, then the PNGs from 21 down to 0.
	var want []string
	for i := range 22 {
		want = append(want, e.uploaded("tiny.png", makeTinyPNG(t, i)).URL)
	}
	photo := e.uploaded("photo.jpg", makeJPEG(t, 80, 700, 500))
	mp3, err := os.ReadFile("../hashstore/testdata/sample.mp3")
	if err != nil {
		t.Fatal(err)
	}
	song := e.uploaded("song.mp3", mp3)
	want = append(want, photo.URL, song.URL)
	slices.Reverse(want)
	pngs := want[2:]

	tests := []struct {
		name      string
		query     string
		want      []string
		wantAfter bool
	}{
		{name: "default limit", query: "", want: want[:20], wantAfter: true},
		{name: "limit", query: "&limit=3", want: want[:3], wantAfter: true},
		{name: "limit over the maximum", query: "&limit=1000", want: want},
		{name: "offset", query: "&limit=2&offset=1", want: want[1:3], wantAfter: true},
		{name: "offset to the end", query: "&limit=4&offset=20", want: want[20:]},
		{name: "offset past the end", query: "&offset=500", want: []string{}},
		{name: "major type", query: "&mime_type=image&limit=2", want: []string{photo.URL, pngs[0]}, wantAfter: true},
		{name: "exact type", query: "&mime_type=image/jpeg", want: []string{photo.URL}},
		{name: "audio", query: "&mime_type=audio", want: []string{song.URL}},
		{name: "filter matching nothing", query: "&mime_type=video", want: []string{}},
		{name: "exact filter matching nothing", query: "&mime_type=image/gif", want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got source
			e.getJSON("q=source"+tt.query, &got)
			if diff := cmp.Diff(urls(got.Items), tt.want); diff != "" {
				t.Errorf("items (-got +want):\n%s", diff)
			}
			if got := got.Paging.After != nil; got != tt.wantAfter {
				t.Errorf("paging.after present = %v, want %v", got, tt.wantAfter)
			}
		})
	}

	t.Run("pages across a boundary", func(t *testing.T) {
		var seen []string
		query := "q=source&limit=7"
		for range 10 {
			var got source
			e.getJSON(query, &got)
			seen = append(seen, urls(got.Items)...)
			if got.Paging.After == nil {
				break
			}
			if len(seen) == 7 {
				// An upload arriving at the top does not shift the pages.
				want = append([]string{e.uploaded("new.png", makeTinyPNG(t, 1000)).URL}, want...)
			}
			query = "q=source&limit=7&after=" + url.QueryEscape(*got.Paging.After)
		}
		if diff := cmp.Diff(seen, want[1:]); diff != "" {
			t.Errorf("pages (-got +want):\n%s", diff)
		}
	})

	t.Run("one item by url", func(t *testing.T) {
		var got sourceItem
		e.getJSON("q=source&url="+url.QueryEscape(photo.URL), &got)
		published, err := time.Parse(time.RFC3339, got.Published)
		if err != nil || time.Since(published) > time.Minute {
			t.Errorf("published = %q (%v), want RFC 3339, now", got.Published, err)
		}
		wantItem := sourceItem{
			URL: photo.URL, Published: got.Published, MimeType: "image/jpeg", Size: photo.Size, SHA256: photo.SHA256,
			Width: 700, Height: 500, Thumbnails: photo.Thumbnails, Storage: "repo", Filename: "photo.jpg",
			Commit: photo.Commit, Pushed: new(true),
		}
		if diff := cmp.Diff(got, wantItem); diff != "" {
			t.Errorf("item (-got +want):\n%s", diff)
		}
		if len(photo.Thumbnails) != 2 {
			t.Errorf("the upload made %d thumbnails, want 2", len(photo.Thumbnails))
		}
	})

	t.Run("audio has no size or thumbnails", func(t *testing.T) {
		resp := e.get(goodToken, "q=source&url="+url.QueryEscape(song.URL))
		var raw map[string]any
		decode(t, resp, &raw)
		for _, k := range []string{"width", "height", "thumbnails"} {
			if _, ok := raw[k]; ok {
				t.Errorf("audio item has %q: %v", k, raw)
			}
		}
		if raw["mime_type"] != "audio/mpeg" || raw["size"] != float64(len(mp3)) {
			t.Errorf("audio item = %v", raw)
		}
	})

	t.Run("last", func(t *testing.T) {
		var got map[string]string
		e.getJSON("q=last", &got)
		if got["url"] != want[0] {
			t.Errorf("q=last = %v, want %s", got, want[0])
		}
	})
}

func TestQueryErrors(t *testing.T) {
	e := newEnv(t, envOptions{})
	photo := e.uploaded("photo.jpg", makeJPEG(t, 81, 700, 500))
	tests := []struct {
		name       string
		query      string
		token      string
		wantStatus int
		wantCode   string
	}{
		{name: "limit not a number", query: "q=source&limit=ten", wantStatus: 400, wantCode: codeInvalidRequest},
		{name: "limit zero", query: "q=source&limit=0", wantStatus: 400, wantCode: codeInvalidRequest},
		{name: "limit negative", query: "q=source&limit=-1", wantStatus: 400, wantCode: codeInvalidRequest},
		{name: "offset negative", query: "q=source&offset=-1", wantStatus: 400, wantCode: codeInvalidRequest},
		{name: "offset not a number", query: "q=source&offset=1e3", wantStatus: 400, wantCode: codeInvalidRequest},
		{name: "cursor not ours", query: "q=source&after=bm9wZQ", wantStatus: 400, wantCode: codeInvalidRequest},
		{name: "url unknown", query: "q=source&url=" + url.QueryEscape(siteURL+"/media/00/00/"+zeros+".jpg"), wantStatus: 400, wantCode: codeInvalidRequest},
		{name: "url of a thumbnail", query: "q=source&url=" + url.QueryEscape(photo.Thumbnails[0].URL), wantStatus: 400, wantCode: codeInvalidRequest},
		{name: "url of another site", query: "q=source&url=" + url.QueryEscape("https://other.example/media/x.jpg"), wantStatus: 400, wantCode: codeInvalidRequest},
		{name: "url empty", query: "q=source&url=", wantStatus: 400, wantCode: codeInvalidRequest},
		{name: "source without token", query: "q=source", token: "-", wantStatus: 401, wantCode: codeUnauthorized},
		{name: "last with a bad token", query: "q=last", token: unknownToken, wantStatus: 401, wantCode: codeInvalidToken},
		{name: "source with a delete-only token", query: "q=source", token: deleteToken, wantStatus: 401, wantCode: codeInsufficientScope},
		{name: "config with a delete-only token", query: "q=config", token: deleteToken, wantStatus: 401, wantCode: codeInsufficientScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := tt.token
			switch token {
			case "":
				token = goodToken
			case "-":
				token = ""
			}
			wantError(t, e.get(token, tt.query), tt.wantStatus, tt.wantCode)
		})
	}
}

const zeros = "0000000000000000000000000000000000000000000000000000000000000000"

// Media that another writer pushed (here a person, without trailers)
// shows up once spano fetched it, which an upload in sync mode does when
// the remote moved.
func TestQuerySeesFetchedMedia(t *testing.T) {
	// spano's clock runs an hour ahead, so its uploads are newer than the
	// person's commit rather than in the same second.
	e := newEnv(t, envOptions{repoOptions: func(o *repo.Options) {
		o.Now = func() time.Time { return time.Now().Add(time.Hour) }
	}})
	mine := e.uploaded("mine.png", makeTinyPNG(t, 1))

	pic := makePNG(t, 94, 30, 20)
	sum := digest(string(pic))
	rel := "media/" + sum[:2] + "/" + sum[2:4] + "/" + sum + ".png"
	work := filepath.Join(t.TempDir(), "work")
	gittest.Git(t, "", "clone", "-q", e.remote, work)
	if err := os.MkdirAll(filepath.Join(work, filepath.Dir(rel)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, rel), pic, 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, work, "add", rel)
	gittest.Git(t, work, "commit", "-q", "-m", "Add a picture by hand")
	gittest.Git(t, work, "push", "-q", "origin", "HEAD:main")

	wantError(t, e.get(goodToken, "q=source&url="+url.QueryEscape(siteURL+"/"+rel)), 400, codeInvalidRequest)
	next := e.uploaded("next.png", makeTinyPNG(t, 2))
	if !next.Pushed {
		t.Fatalf("upload not pushed: %+v", next)
	}
	var got source
	e.getJSON("q=source", &got)
	if diff := cmp.Diff(urls(got.Items), []string{next.URL, mine.URL, siteURL + "/" + rel}); diff != "" {
		t.Fatalf("items (-got +want):\n%s", diff)
	}
	var item sourceItem
	e.getJSON("q=source&url="+url.QueryEscape(siteURL+"/"+rel), &item)
	if item.MimeType != "image/png" || item.Size != int64(len(pic)) || item.Width != 30 || item.Height != 20 || item.SHA256 != sum {
		t.Errorf("fetched item = %+v", item)
	}
	if item.Thumbnails == nil || len(item.Thumbnails) != 0 {
		t.Errorf("fetched image thumbnails = %#v, want []", item.Thumbnails)
	}
}

// liveSet is a Live that answers from a set the test fills.
type liveSet struct {
	mu   sync.Mutex
	live map[string]bool
}

func (l *liveSet) Live(sha string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.live[sha]
}

func (l *liveSet) set(sha string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.live[sha] = true
}

// TestSourceCommitPushedLive: q=source says which commit added each
// file, whether the remote has it, and whether the site serves it.
func TestSourceCommitPushedLive(t *testing.T) {
	for _, tc := range []struct {
		name       string
		push       repo.PushMode
		live       bool
		wantPushed bool
	}{
		{"sync push, live check", repo.PushSync, true, true},
		{"push off, no live check", repo.PushOff, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls := &liveSet{live: map[string]bool{}}
			opts := envOptions{push: tc.push, records: true}
			if tc.live {
				opts.live = ls
			}
			e := newEnv(t, opts)
			up := e.uploaded("dot.png", makeTinyPNG(t, 500))
			item := func() map[string]any {
				resp := e.get(goodToken, "q=source&url="+url.QueryEscape(up.URL))
				var raw map[string]any
				decode(t, resp, &raw)
				return raw
			}
			raw := item()
			if got := raw["commit"]; got != up.Commit || up.Commit == "" {
				t.Errorf("commit = %v, want the 201's %q", got, up.Commit)
			}
			if got := raw["pushed"]; got != tc.wantPushed {
				t.Errorf("pushed = %v, want %v", got, tc.wantPushed)
			}
			if got, ok := raw["live"]; tc.live && got != false || !tc.live && ok {
				t.Errorf("live = %v (present %v) before the site serves it", got, ok)
			}
			if !tc.live {
				return
			}
			ls.set(up.SHA256)
			if got := item()["live"]; got != true {
				t.Errorf("live = %v once the site serves it, want true", got)
			}
		})
	}
}

// TestSourceOffloadedVideo: an offloaded video, committed as its record
// (no original blob), is listed from the record's facts: storage, the
// poster, the duration and the client's filename.
func TestSourceOffloadedVideo(t *testing.T) {
	e := newEnv(t, envOptions{records: true})
	sha := strings.Repeat("ab", 32)
	rec := record.Record{
		Path: e.layout.Store.Path(sha, "mp4"), SHA256: sha, Type: "video/mp4", Size: 123456,
		Width: 1920, Height: 1080, Duration: 7.25, Storage: record.StorageS3,
		Published: time.Now().UTC().Truncate(time.Second), Filename: "clip.mp4",
		Poster: siteURL + "/media/ab/ab/poster.jpg",
	}
	file := filepath.Join(t.TempDir(), "record.json")
	if err := os.WriteFile(file, rec.JSON(), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := e.repo.Commit(context.Background(), repo.Change{
		Add:     []repo.Blob{{Path: e.layout.RecordPath(sha), File: file}},
		Message: rec.Message(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var got source
	e.getJSON("q=source&mime_type=video", &got)
	if len(got.Items) != 1 {
		t.Fatalf("items = %+v, want the offloaded video", got.Items)
	}
	it := got.Items[0]
	for _, c := range []struct{ name, got, want string }{
		{"storage", it.Storage, "s3"},
		{"poster", it.Poster, rec.Poster},
		{"duration", fmt.Sprint(it.Duration), "7.25"},
		{"filename", it.Filename, "clip.mp4"},
		{"commit", it.Commit, res.Commit},
		{"sha256", it.SHA256, sha},
		{"size", fmt.Sprint(it.Size), "123456"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if it.Pushed == nil || !*it.Pushed {
		t.Errorf("pushed = %v, want true (sync push)", it.Pushed)
	}
}
