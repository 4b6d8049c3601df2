package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"spano/internal/safebuf"
	"strings"
	"sync"
	"testing"
	"time"
)

// started is a spano serve running in the background.
type started struct {
	addr           string
	stdout, stderr *safebuf.Buffer
	stop           func() error // cancels the context and returns run's error
}

// start runs "spano args…" until stop is called and waits until it
// listens.
func start(t *testing.T, args ...string) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &started{stdout: &safebuf.Buffer{}, stderr: &safebuf.Buffer{}}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, s.stdout, s.stderr) }()
	var once sync.Once
	var runErr error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				runErr = errors.New("run did not return after cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = s.stop() })

	listening := regexp.MustCompile(`"?addr"?[=:]"?([0-9.]+:[0-9]+)`)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v\nstderr:\n%s", err, s.stderr)
		default:
		}
		if m := listening.FindStringSubmatch(s.stderr.String()); m != nil {
			s.addr = m[1]
			return s
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("spano did not start listening\nstderr:\n%s", s.stderr)
	return nil
}

// uploadPNG posts a small PNG made from seed with token and returns the
// decoded 201 body.
func uploadPNG(t *testing.T, endpoint, token string, seed byte) map[string]any {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, 16, 16))
	img.Pix[0] = seed
	var pic bytes.Buffer
	if err := png.Encode(&pic, img); err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("file", "tiny.png")
	w.Write(pic.Bytes())
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, endpoint, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: status %d: %s", resp.StatusCode, b)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestServeEmbeddedDefault(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("SPANO_CONFIG", "")

	s := start(t, "serve", "-listen", "127.0.0.1:0")
	tokenFile := filepath.Join(dir, "spano-data", "token")
	st, err := os.Stat(tokenFile)
	if err != nil {
		t.Fatalf("token file: %v", err)
	}
	if got := st.Mode().Perm(); got != 0o600 {
		t.Errorf("token file mode = %v, want 0600", got)
	}
	b, _ := os.ReadFile(tokenFile)
	token := strings.TrimSpace(string(b))
	if raw, err := hex.DecodeString(token); err != nil || len(raw) != 32 {
		t.Errorf("token %d characters, want 64 hex (32 random bytes)", len(token))
	}
	if _, err := os.Stat(filepath.Join(dir, "spano-data", "site.git", "HEAD")); err != nil {
		t.Errorf("no bare repository in ./spano-data/site.git: %v", err)
	}

	base := "http://" + s.addr
	curl := `curl -H "Authorization: Bearer $(cat ./spano-data/token)" -F file=@photo.jpg ` + base + "/micropub/media"
	if !strings.Contains(s.stdout.String(), curl) {
		t.Errorf("stdout lacks the curl command %q:\n%s", curl, s.stdout)
	}
	for _, want := range []string{"spano-data", "site.git", "token_file=./spano-data/token", "tokens=\"1 static token\""} {
		if !strings.Contains(s.stderr.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, s.stderr)
		}
	}

	first := uploadPNG(t, base+"/micropub/media", token, 1)
	url, _ := first["url"].(string)
	if !strings.HasPrefix(url, base+"/media/") {
		t.Errorf("url = %q, want it under %s/media/", url, base)
	}
	resp, err := http.Get(url) // the embedded default serves its media
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Errorf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := s.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	for name, out := range map[string]string{"stdout": s.stdout.String(), "stderr": s.stderr.String()} {
		if strings.Contains(out, token) {
			t.Errorf("%s holds the token", name)
		}
	}

	// A restart keeps the token and the repository.
	s2 := start(t, "serve", "-listen", "127.0.0.1:0")
	b2, _ := os.ReadFile(tokenFile)
	if strings.TrimSpace(string(b2)) != token {
		t.Errorf("token changed on restart")
	}
	if !strings.Contains(s2.stderr.String(), "token=reused") {
		t.Errorf("log does not say the token was reused:\n%s", s2.stderr)
	}
	// The index comes from the snapshot the first run left, and still
	// holds its upload.
	if !strings.Contains(s2.stderr.String(), "from=snapshot") {
		t.Errorf("restart did not load the index from its snapshot:\n%s", s2.stderr)
	}
	req, _ := http.NewRequest("GET", "http://"+s2.addr+"/micropub/media?q=source", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Error(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), first["sha256"].(string)) {
			t.Errorf("q=source after restart: %d %s, want the first run's upload", resp.StatusCode, b)
		}
	}
	again := uploadPNG(t, "http://"+s2.addr+"/micropub/media", token, 1)
	if again["duplicate"] != true || again["sha256"] != first["sha256"] {
		t.Errorf("same bytes after restart: duplicate %v, sha256 %v; want true, %v", again["duplicate"], again["sha256"], first["sha256"])
	}
	if err := s2.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if strings.Contains(s2.stderr.String(), token) || strings.Contains(s2.stdout.String(), token) {
		t.Errorf("second run logged the token")
	}
}

func TestServeConfigFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	remote := filepath.Join(dir, "remote.git")
	gitCmd(t, "init", "-q", "--bare", "-b", "main", remote)
	work := filepath.Join(dir, "work")
	gitCmd(t, "init", "-q", "-b", "main", work)
	os.WriteFile(filepath.Join(work, "index.md"), []byte("hi\n"), 0o644)
	gitCmd(t, "-C", work, "add", ".")
	gitCmd(t, "-C", work, "commit", "-q", "-m", "site")
	gitCmd(t, "-C", work, "push", "-q", remote, "main")

	const token = "a-configured-static-token"
	sum := sha256.Sum256([]byte(token))
	cfg := `listen: "127.0.0.1:9"
base_url: "https://media.example.com"
data_dir: "` + filepath.Join(dir, "data") + `"
site:
  url: "https://example.com"
  generator: hugo
repo:
  remote: "` + remote + `"
  push: sync
auth:
  me: "https://example.com/"
  discover: false
  tokens:
    - sha256: "` + hex.EncodeToString(sum[:]) + `"
      scope: "media"
log:
  format: json
`
	path := filepath.Join(dir, "spano.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, "serve", "-config", path, "-listen", "127.0.0.1:0")
	got := uploadPNG(t, "http://"+s.addr+"/micropub/media", token, 7)
	if got["pushed"] != true {
		t.Errorf("pushed = %v, want true", got["pushed"])
	}
	url, _ := got["url"].(string)
	if !strings.HasPrefix(url, "https://example.com/media/") {
		t.Errorf("url = %q, want it on site.url under /media", url)
	}
	files := gitCmd(t, "-C", remote, "ls-tree", "-r", "--name-only", "main")
	if !strings.Contains(files, "static/media/") {
		t.Errorf("hugo site: want the file under static/media, remote has:\n%s", files)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if strings.Contains(s.stderr.String(), token) {
		t.Errorf("log holds the token")
	}
	if _, err := os.Stat(filepath.Join(dir, "spano-data")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a config file run created ./spano-data")
	}
}

func TestServeBadConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.yml")
	os.WriteFile(path, []byte("listen: \"127.0.0.1:0\"\nrepo:\n  push: sometimes\n"), 0o600)
	err := run(context.Background(), []string{"serve", "-config", path}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "repo.push") {
		t.Errorf("run = %v, want an error naming repo.push", err)
	}
}

func TestFindConfig(t *testing.T) {
	tests := []struct {
		name      string
		flag, env string
		localFile bool
		want      string
	}{
		{name: "flag wins", flag: "a.yml", env: "b.yml", localFile: true, want: "a.yml"},
		{name: "then the environment", env: "b.yml", localFile: true, want: "b.yml"},
		{name: "then ./_config.yml", localFile: true, want: "_config.yml"},
		{name: "else embedded", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(t.TempDir())
			if tt.localFile {
				os.WriteFile("_config.yml", []byte("{}\n"), 0o600)
			}
			getenv := func(k string) string {
				if k == "SPANO_CONFIG" {
					return tt.env
				}
				return ""
			}
			got, err := findConfig(tt.flag, getenv)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("findConfig = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRunCommands(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantErr    bool
		wantStdout string
	}{
		{name: "version", args: []string{"version"}, wantStdout: "spano "},
		{name: "help", args: []string{"help"}, wantStdout: "spano serve"},
		{name: "no command", args: nil, wantErr: true},
		{name: "unknown command", args: []string{"frobnicate"}, wantErr: true},
		{name: "serve with an argument", args: []string{"serve", "extra"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Fatalf("run(%q) = %v, want error %v", tt.args, err, tt.wantErr)
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout = %q, want it to contain %q", stdout.String(), tt.wantStdout)
			}
		})
	}
}

func TestShellPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{in: "spano-data/token", want: "./spano-data/token"},
		{in: "./spano-data/token", want: "./spano-data/token"},
		{in: "/var/lib/spano/token", want: "/var/lib/spano/token"},
		{in: "/home/me/my data/token", want: "'/home/me/my data/token'"},
		{in: "/tmp/it's/token", want: `'/tmp/it'\''s/token'`},
	}
	for _, tt := range tests {
		if got := shellPath(tt.in); got != tt.want {
			t.Errorf("shellPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func gitCmd(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=T", "-c", "user.email=t@example.com"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestServeFinishesUploadsOnShutdown(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("SPANO_CONFIG", "")
	s := start(t, "serve", "-listen", "127.0.0.1:0")
	b, _ := os.ReadFile(filepath.Join(dir, "spano-data", "token"))

	img := image.NewGray(image.Rect(0, 0, 16, 16))
	var pic bytes.Buffer
	png.Encode(&pic, img)
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/micropub/media", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(b)))
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		resp.Body.Close()
		done <- result{status: resp.StatusCode}
	}()

	// Half the upload is in flight when the signal comes.
	w, _ := mw.CreateFormFile("file", "slow.png")
	w.Write(pic.Bytes()[:20])
	time.Sleep(100 * time.Millisecond)
	stopped := make(chan error, 1)
	go func() { stopped <- s.stop() }()
	time.Sleep(200 * time.Millisecond)
	w.Write(pic.Bytes()[20:])
	mw.Close()
	pw.Close()

	if r := <-done; r.err != nil || r.status != http.StatusCreated {
		t.Errorf("upload in flight during shutdown: status %d, err %v; want 201", r.status, r.err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("run: %v", err)
	}
	if !strings.Contains(s.stderr.String(), "shutting down") {
		t.Errorf("no shutdown in the log:\n%s", s.stderr)
	}
}
