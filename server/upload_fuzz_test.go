package server

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spano/hashstore"
	"spano/index"
	"spano/indieauth"
	"spano/ingest"
	"spano/record"
	"spano/repo"
	"spano/thumbs"
)

// fuzzToken is the token every fuzzed request carries in its header
// (when the input says so): with upload and delete scopes, so that the
// body is always read.
const fuzzToken = "fuzz-token-with-every-scope"

// fuzzHandler is the whole spano handler on a real repository in a temp
// dir (no remote: each request commits, nothing is pushed), with
// thumbnails, the index and media serving on.
func fuzzHandler(tb testing.TB) http.Handler {
	tb.Helper()
	dir := tb.TempDir()
	store, err := hashstore.New(hashstore.Options{
		TempDir: filepath.Join(dir, "tmp"), MaxSize: 1 << 20,
		Types:    []string{"image/jpeg", "image/png", "image/gif", "video/mp4", "audio/mpeg"},
		MediaDir: "media", Depth: 2, Width: 2,
	})
	if err != nil {
		tb.Fatal(err)
	}
	repoPath := filepath.Join(dir, "site.git")
	media := index.New(index.Options{Store: store, MediaDir: "media"})
	r, err := repo.Open(context.Background(), repo.Options{Path: repoPath, Branch: "main", Notify: media.Apply})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Close(ctx)
	})
	if err := media.Load(context.Background(), r); err != nil {
		tb.Fatal(err)
	}
	maker, err := thumbs.New(thumbs.Options{Widths: []int{8}, MaxPixels: 1 << 20})
	if err != nil {
		tb.Fatal(err)
	}
	verifier, err := indieauth.New(context.Background(), indieauth.Options{
		Me:     siteURL + "/",
		Static: []indieauth.StaticToken{{SHA256: digest(fuzzToken), Scope: "media create delete"}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	layout := record.Layout{Store: store, SiteURL: siteURL + "/media", DataDir: "_data"}
	pipeline, err := ingest.New(ingest.Options{Store: store, Repo: r, Layout: layout, Images: maker, Index: media,
		StripGPS: true, Records: true, TempDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	return New(Options{
		Verifier: verifier, Repo: r, Pipeline: pipeline, Layout: layout, Index: media,
		BaseURL: "https://media.example.com", EndpointPath: "/micropub/media",
		MediaURLPath: "/media", MaxSize: 1 << 20,
		Scopes: []string{"media", "create"}, DeleteScopes: []string{"delete"}, Serve: true,
		CORSOrigins: []string{"*"},
	})
}

// fuzzPNG is a small valid PNG for the seeds.
func fuzzPNG(tb testing.TB) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 12, 9))); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// FuzzPost feeds arbitrary bodies and content types to POST
// {endpoint_path}: multipart uploads, urlencoded and JSON deletes. The
// handler must not panic, must never answer 5xx for what the client sent
// (the repository is healthy), and must answer in SPEC.md's shapes: 201
// or 200 with the documented JSON, anything else a Micropub error.
func FuzzPost(f *testing.F) {
	pic := fuzzPNG(f)
	for _, seed := range fuzzPostSeeds(f, pic) {
		f.Add(seed.contentType, seed.body, seed.header)
	}
	h := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, contentType string, body []byte, header bool) {
		req := httptest.NewRequest(http.MethodPost, "/micropub/media", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		if header {
			req.Header.Set("Authorization", "Bearer "+fuzzToken)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkAnswer(t, rec)
	})
}

// checkAnswer holds a response to SPEC.md's shapes.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("status %d for client input: %s", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		t.Fatalf("status %d with Content-Type %q", rec.Code, got)
	}
	switch rec.Code {
	case http.StatusCreated:
		var up uploadResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &up); err != nil {
			t.Fatalf("201 body %q: %v", rec.Body, err)
		}
		if !strings.HasPrefix(up.URL, siteURL+"/media/") || rec.Header().Get("Location") != up.URL {
			t.Fatalf("201 with url %q, Location %q", up.URL, rec.Header().Get("Location"))
		}
	case http.StatusOK:
		var del map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &del); err != nil || del["deleted"] == "" {
			t.Fatalf("200 body %q: %v", rec.Body, err)
		}
	default:
		var e errorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
			t.Fatalf("status %d with body %q: %v", rec.Code, rec.Body, err)
		}
	}
}

// FuzzServePath requests arbitrary paths below media.url_path: serving
// parses them with hashstore.Parse and must answer 200, 206, 304, 404 or
// 416, never panic or fail.
func FuzzServePath(f *testing.F) {
	h := fuzzHandler(f)
	for _, p := range []string{
		"ab/cd/abcd" + strings.Repeat("0", 60) + ".png",
		"ab/cd/abcd" + strings.Repeat("0", 60) + "-320w.jpg",
		"../../../etc/passwd", "ab//cd/x.png", "%2e%2e/x", "AB/CD/x.PNG", "", "/", "ab/cd/.png",
		"ab/cd/abcd" + strings.Repeat("0", 60) + "-0320w.png",
	} {
		f.Add(p, "bytes=0-1")
	}
	f.Fuzz(func(t *testing.T, path, rng string) {
		req, err := http.NewRequest(http.MethodGet, "http://spano.test/media/"+path, nil)
		if err != nil {
			return // not a URL a client could send
		}
		req.Header.Set("Range", rng)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusPartialContent, http.StatusNotModified, http.StatusNotFound,
			http.StatusRequestedRangeNotSatisfiable, http.StatusMovedPermanently, http.StatusBadRequest:
		default:
			t.Fatalf("GET /media/%s: status %d: %s", path, rec.Code, rec.Body)
		}
	})
}

// postSeed is one seed of FuzzPost.
type postSeed struct {
	contentType string
	body        []byte
	header      bool
}

// fuzzPostSeeds are good and bad requests of every kind the endpoint
// takes, so the fuzzer starts from each code path.
func fuzzPostSeeds(tb testing.TB, pic []byte) []postSeed {
	const boundary = "fuzzb"
	ct := "multipart/form-data; boundary=" + boundary
	form := func(parts ...string) []byte {
		var b bytes.Buffer
		for _, p := range parts {
			b.WriteString("--" + boundary + "\r\n" + p)
		}
		b.WriteString("--" + boundary + "--\r\n")
		return b.Bytes()
	}
	file := func(name, filename string, content []byte) string {
		return "Content-Disposition: form-data; name=\"" + name + "\"; filename=\"" + filename + "\"\r\n" +
			"Content-Type: image/png\r\n\r\n" + string(content) + "\r\n"
	}
	field := func(name, value string) string {
		return "Content-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n"
	}
	url := siteURL + "/media/" + "ab/cd/abcd" + strings.Repeat("0", 60) + ".png"
	return []postSeed{
		{ct, form(file("file", "a.png", pic)), true},
		{ct, form(file("file[]", "a.png", pic)), true},
		{ct, form(field("access_token", fuzzToken), file("file", "a.png", pic)), false},
		{ct, form(file("file", "a.png", pic), field("access_token", fuzzToken)), false},
		{ct, form(file("file", "a.png", pic), file("file", "b.png", pic)), true},
		{ct, form(file("photo", "a.png", pic)), true},
		{ct, form(field("h", "entry"), file("file", "../../x.png", pic)), true},
		{ct, form(file("file", "empty.png", nil)), true},
		{ct, form(file("file", "text.png", []byte("not an image"))), true},
		{ct, form(file("file", "cut.png", pic[:len(pic)/2])), true},
		{ct, form(field("action", "delete"), field("url", url)), true},
		{ct, form(field("action", "update")), true},
		{ct, form(file("file", "a.png", pic))[:40], true},
		{"multipart/form-data", form(file("file", "a.png", pic)), true},
		{"multipart/form-data; boundary=" + strings.Repeat("x", 80), []byte("--x\r\n"), true},
		{"application/x-www-form-urlencoded", []byte("action=delete&url=" + url), true},
		{"application/x-www-form-urlencoded", []byte("action=delete&url=%zz&access_token=a&access_token=b"), false},
		{"application/json", []byte(`{"action":"delete","url":"` + url + `"}`), true},
		{"application/json", []byte(`{"action":"delete","url":"` + url + `","access_token":"` + fuzzToken + `"}`), false},
		{"application/json", []byte(`{"action":`), true},
		{"text/plain", []byte("hello"), true},
		{"", nil, false},
	}
}
