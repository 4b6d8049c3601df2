package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"spano/repo"
)

func TestServeMedia(t *testing.T) {
	e := newEnv(t, envOptions{serve: true})
	content := makeJPEG(t, 80, 400, 300)
	resp := e.upload(goodToken, "served.jpg", content)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: status %d", resp.StatusCode)
	}
	var up uploadResponse
	decode(t, resp, &up)
	if len(up.Thumbnails) == 0 {
		t.Fatal("no thumbnail to serve")
	}
	path := strings.TrimPrefix(up.URL, siteURL)
	thumbPath := strings.TrimPrefix(up.Thumbnails[0].URL, siteURL)

	get := func(t *testing.T, method, path string, header ...string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, e.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp := e.do(req)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}

	tests := []struct {
		name       string
		method     string
		path       string
		header     []string
		wantStatus int
		wantBody   string
		wantETag   string
		wantType   string
	}{
		{name: "original", method: "GET", path: path, wantStatus: 200, wantBody: string(content),
			wantETag: `"` + up.SHA256 + `"`, wantType: "image/jpeg"},
		{name: "head", method: "HEAD", path: path, wantStatus: 200, wantBody: "",
			wantETag: `"` + up.SHA256 + `"`, wantType: "image/jpeg"},
		{name: "range", method: "GET", path: path, header: []string{"Range", "bytes=2-11"},
			wantStatus: 206, wantBody: string(content[2:12]), wantETag: `"` + up.SHA256 + `"`, wantType: "image/jpeg"},
		{name: "2,000 descending ranges: the whole file, read once", method: "GET", path: path,
			header: []string{"Range", descendingRanges(2000)}, wantStatus: 200, wantBody: string(content),
			wantETag: `"` + up.SHA256 + `"`, wantType: "image/jpeg"},
		{name: "not modified", method: "GET", path: path, header: []string{"If-None-Match", `"` + up.SHA256 + `"`},
			wantStatus: 304, wantETag: `"` + up.SHA256 + `"`},
		{name: "thumbnail", method: "GET", path: thumbPath, wantStatus: 200,
			wantETag: `"` + up.SHA256 + "-" + itoa(up.Thumbnails[0].Width) + `w"`, wantType: "image/jpeg"},
		{name: "unknown hash", method: "GET", path: "/media/00/00/" + strings.Repeat("0", 64) + ".jpg", wantStatus: 404},
		{name: "wrong extension", method: "GET", path: strings.TrimSuffix(path, ".jpg") + ".png", wantStatus: 404},
		{name: "uppercase hash", method: "GET", path: strings.ToUpper(path), wantStatus: 404},
		{name: "not a media name", method: "GET", path: "/media/index.md", wantStatus: 404},
		{name: "outside the media folder", method: "GET", path: "/media/../index.md", wantStatus: 404},
		{name: "missing thumbnail width", method: "GET", path: strings.TrimSuffix(path, ".jpg") + "-321w.jpg", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, tt.method, tt.path, tt.header...)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %.200s", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantStatus >= 400 {
				return
			}
			if tt.wantBody != "" || tt.method == "HEAD" {
				if string(body) != tt.wantBody {
					t.Errorf("body: got %d bytes, want %d", len(body), len(tt.wantBody))
				}
			}
			if tt.name == "thumbnail" && !strings.HasPrefix(string(body), "\xff\xd8\xff") {
				t.Errorf("thumbnail is not a JPEG")
			}
			if got := resp.Header.Get("ETag"); got != tt.wantETag {
				t.Errorf("ETag = %q, want %q", got, tt.wantETag)
			}
			if tt.wantStatus == 304 {
				return
			}
			for k, want := range map[string]string{
				"Content-Type":           tt.wantType,
				"Cache-Control":          "public, max-age=31536000, immutable",
				"X-Content-Type-Options": "nosniff",
			} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if tt.method == "HEAD" {
				if got, want := resp.ContentLength, int64(len(content)); got != want {
					t.Errorf("HEAD Content-Length = %d, want %d", got, want)
				}
			}
		})
	}
}

func TestServeMediaOff(t *testing.T) {
	e := newEnv(t, envOptions{})
	resp := e.upload(goodToken, "a.png", makeTinyPNG(t, 1))
	var up uploadResponse
	decode(t, resp, &up)
	got, err := e.srv.Client().Get(e.srv.URL + strings.TrimPrefix(up.URL, siteURL))
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, got, 404, codeNotFound)
}

func TestHealthz(t *testing.T) {
	e := newEnv(t, envOptions{})
	resp, err := e.srv.Client().Get(e.srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthy repository: status %d, want 200", resp.StatusCode)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.repo.Close(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err = e.srv.Client().Get(e.srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, resp, 503, codeUnavailable)
}

func itoa(n int) string {
	return strconv.Itoa(n)
}

// TestHealthzUnreadable: a repository whose branch cannot be read, or was
// moved behind spano's back, is reported as unavailable.
func TestHealthzUnreadable(t *testing.T) {
	tests := []struct {
		name      string
		breakRepo func(t *testing.T, repoPath string)
	}{
		{name: "objects gone", breakRepo: func(t *testing.T, repoPath string) {
			if err := rename(filepath.Join(repoPath, "objects"), filepath.Join(repoPath, "objects.away")); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "branch moved outside spano", breakRepo: func(t *testing.T, repoPath string) {
			ref := filepath.Join(repoPath, "refs", "heads", "main")
			if err := os.WriteFile(ref, []byte(strings.Repeat("ab", 20)+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			tt.breakRepo(t, filepath.Join(e.data, "site.git"))
			resp, err := e.srv.Client().Get(e.srv.URL + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			wantError(t, resp, 503, codeUnavailable)
		})
	}
}

// TestHealthzStuckWriter: while the repository's writer is held inside a
// commit longer than StuckAfter, a health check reports 503 at once,
// instead of hanging; once the writer is free, 200.
func TestHealthzStuckWriter(t *testing.T) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	var releaseOnce sync.Once
	e := newEnv(t, envOptions{repoOptions: func(o *repo.Options) {
		o.StuckAfter = 100 * time.Millisecond
		// Notify runs on the writer goroutine: blocking it is a stuck writer.
		o.Notify = func(n repo.Notice) {
			if n.Kind == repo.NoticeCommitted {
				select {
				case entered <- struct{}{}:
				default:
				}
				<-release
			}
		}
	}})
	unstick := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unstick) // before the repository closes: cleanups run last first

	body, ct := multipartBody(t, part{name: "file", filename: "a.png", content: makeTinyPNG(t, 3)})
	uploaded := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/micropub/media", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+goodToken)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			uploaded <- 0
			return
		}
		resp.Body.Close()
		uploaded <- resp.StatusCode
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the upload never reached the writer")
	}

	// The handler's 5 s budget is cut short by the request's own deadline,
	// as a load balancer's probe timeout would.
	health := func(timeout time.Duration) *httptest.ResponseRecorder {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		rec := httptest.NewRecorder()
		e.srv.Config.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil).WithContext(ctx))
		return rec
	}
	time.Sleep(200 * time.Millisecond) // past StuckAfter
	start := time.Now()
	rec := health(200 * time.Millisecond)
	if got, want := rec.Code, http.StatusServiceUnavailable; got != want {
		t.Errorf("stuck writer: status %d, want %d", got, want)
	}
	if !strings.Contains(rec.Body.String(), codeUnavailable) {
		t.Errorf("stuck writer: body %q, want %s", rec.Body.String(), codeUnavailable)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("health check took %v with a stuck writer, want about its deadline", d)
	}

	unstick()
	if got := <-uploaded; got != http.StatusCreated {
		t.Errorf("upload after the writer was freed: status %d, want 201", got)
	}
	if got := health(5 * time.Second).Code; got != http.StatusOK {
		t.Errorf("free writer: status %d, want 200", got)
	}
}
