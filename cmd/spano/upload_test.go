package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUploadCommand(t *testing.T) {
	site := newTestSite(t, "http://127.0.0.1:9")
	s := start(t, "serve", "-config", site.config, "-listen", "127.0.0.1:0")
	endpoint := "http://" + s.addr + "/micropub/media"
	a := writePNG(t, site.dir, "a.png", 16, 16, 1)
	b := writePNG(t, site.dir, "b.png", 16, 16, 2)
	text := filepath.Join(site.dir, "notes.txt")
	os.WriteFile(text, []byte("just text\n"), 0o600)

	t.Run("files", func(t *testing.T) {
		out, errOut, err := spano(t, "upload", "-config", site.config, "-endpoint", endpoint, "-token", site.token, a, text, b)
		if err == nil || !strings.Contains(err.Error(), "1 of 3 files failed") {
			t.Errorf("err = %v, want one failure of three", err)
		}
		urls := strings.Fields(out)
		if len(urls) != 2 || !strings.HasPrefix(urls[0], "https://example.com/media/") || urls[0] == urls[1] {
			t.Errorf("printed %q, want the URLs of a.png and b.png", out)
		}
		if want := "upload " + text + ": 415 Unsupported Media Type: invalid_request: file type text/plain is not accepted"; !strings.Contains(errOut, want) {
			t.Errorf("stderr = %q, want %q", errOut, want)
		}
	})
	t.Run("token from the environment, same bytes again", func(t *testing.T) {
		t.Setenv("SPANO_TOKEN", site.token)
		out1, _, err := spano(t, "upload", "-config", site.config, "-endpoint", endpoint, a)
		if err != nil || !strings.HasPrefix(out1, "https://example.com/media/") {
			t.Errorf("upload with $SPANO_TOKEN: %q, %v", out1, err)
		}
	})
	tests := []struct {
		name    string
		args    []string
		wantErr string
		stderr  string
	}{
		{name: "bad token", args: []string{"-endpoint", endpoint, "-token", "wrong", a}, wantErr: "1 of 1",
			stderr: "401 Unauthorized: invalid_token: the access token is invalid, expired or revoked"},
		{name: "missing file", args: []string{"-endpoint", endpoint, "-token", site.token, filepath.Join(site.dir, "nope.png")}, wantErr: "1 of 1",
			stderr: "no such file"},
		{name: "endpoint down", args: []string{"-endpoint", "http://127.0.0.1:9/micropub/media", "-token", site.token, a}, wantErr: "1 of 1",
			stderr: "connection refused"},
		{name: "no files", args: []string{"-token", site.token}, wantErr: "no file given"},
		{name: "no token", args: []string{"-endpoint", endpoint, a}, wantErr: "no token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SPANO_TOKEN", "")
			_, errOut, err := spano(t, append([]string{"upload", "-config", site.config}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
			if !strings.Contains(errOut, tt.stderr) {
				t.Errorf("stderr = %q, want %q", errOut, tt.stderr)
			}
		})
	}
}

// Without -endpoint the config's base_url and endpoint_path are used, and
// the file goes as the multipart part "file" with its base name.
func TestUploadCommandDefaultEndpoint(t *testing.T) {
	type got struct {
		path, auth, filename string
		body                 []byte
	}
	seen := make(chan got, 1)
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, h, err := r.FormFile("file")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b, _ := io.ReadAll(f)
		seen <- got{r.URL.Path, r.Header.Get("Authorization"), h.Filename, b}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"url":"https://example.com/media/x.png"}`)
	}))
	defer endpoint.Close()
	site := newTestSite(t, endpoint.URL)
	a := writePNG(t, site.dir, "a.png", 4, 4, 9)
	out, errOut, err := spano(t, "upload", "-config", site.config, "-token", "tok", a)
	if err != nil || out != "https://example.com/media/x.png\n" {
		t.Fatalf("upload: %q, %v\n%s", out, err, errOut)
	}
	g := <-seen
	want, _ := os.ReadFile(a)
	if g.path != "/micropub/media" || g.auth != "Bearer tok" || g.filename != "a.png" || string(g.body) != string(want) {
		t.Errorf("endpoint saw path %q, auth %q, filename %q, %d bytes", g.path, g.auth, g.filename, len(g.body))
	}
}
