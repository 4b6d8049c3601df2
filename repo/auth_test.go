package repo

import (
	"context"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"spano/internal/gittest"
	"strings"
	"testing"
)

// smartHTTP serves the bare repositories under root over git's smart HTTP
// protocol (git http-backend, as GitHub, Gitea and friends speak it),
// requiring basic auth with the given password, as a token-protected
// remote does.
func smartHTTP(t *testing.T, root, password string) *httptest.Server {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	backend := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(out)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=spano"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, p, ok := r.BasicAuth(); !ok || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPSRemoteWithToken(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	gittest.Git(t, remote, "config", "http.receivepack", "true")
	srv := smartHTTP(t, filepath.Dir(remote), "s3cret-token")
	url := srv.URL + "/" + filepath.Base(remote)

	t.Run("wrong token", func(t *testing.T) {
		_, err := Open(context.Background(), Options{
			Path: filepath.Join(t.TempDir(), "clone.git"), Remote: url, Password: "wrong",
		})
		if err == nil {
			t.Fatal("Open with a wrong token succeeded")
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Errorf("error shows the password: %v", err)
		}
	})

	r := open(t, Options{Remote: url, Push: PushSync, Password: "s3cret-token"})
	file, path := media(t, 50_000)
	res, err := r.Commit(context.Background(), upload(file, path))
	if err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, remote, "rev-parse", "main"); got != res.Commit || !res.Pushed {
		t.Errorf("remote main = %s, Result = %+v", got, res)
	}
	// Someone pushes meanwhile; the next upload fetches over HTTP too.
	foreign := pushForeign(t, remote, "news.md")
	file2, path2 := media(t, 50_000)
	res2, err := r.Commit(context.Background(), upload(file2, path2))
	if err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, remote, "rev-parse", "main~1"); got != foreign || !res2.Pushed {
		t.Errorf("main~1 = %s, want foreign %s", got, foreign)
	}
	gittest.Fsck(t, remote)
}

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://user:tok@example.com/site.git", "https://user:xxxxx@example.com/site.git"},
		{"https://example.com/site.git", "https://example.com/site.git"},
		{"git@github.com:me/site.git", "git@github.com:me/site.git"},
		{"/srv/site.git", "/srv/site.git"},
	} {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
