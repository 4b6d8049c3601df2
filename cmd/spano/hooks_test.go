package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"spano/hooks"
	"spano/internal/gittest"
)

// TestServeHooksPerUpload: through the real wiring, a gallery of uploads
// in async mode with push_delay goes out in one push, and the pushed
// webhook fires exactly once for each upload, after its stored event,
// signed with the hook's secret.
func TestServeHooksPerUpload(t *testing.T) {
	dir := t.TempDir()
	remote := gittest.NewRemote(t, nil)
	pushes := filepath.Join(dir, "pushes")
	if err := os.WriteFile(filepath.Join(remote, "hooks", "post-receive"),
		[]byte("#!/bin/sh\necho push >> '"+pushes+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	events := map[string][]string{} // sha256 → events in arrival order
	badSig := 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct{ Event, SHA256, URL string }
		json.Unmarshal(body, &ev)
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get(hooks.SignatureHeader) != hooks.Sign("s3cret", body) {
			badSig++
		}
		events[ev.SHA256] = append(events[ev.SHA256], ev.Event)
	}))
	defer hook.Close()

	const token = "hooks-test-token"
	sum := sha256.Sum256([]byte(token))
	cfg := `base_url: "https://media.example.com"
data_dir: "` + filepath.Join(dir, "data") + `"
site: {url: "https://example.com"}
repo: {remote: "` + remote + `", push: async, push_delay: "1s"}
auth:
  me: "https://example.com/"
  discover: false
  tokens: [{sha256: "` + hex.EncodeToString(sum[:]) + `", scope: "media"}]
hooks:
  - name: ci
    events: [stored, pushed]
    url: "` + hook.URL + `"
    secret: "s3cret"
`
	path := filepath.Join(dir, "spano.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, "serve", "-config", path, "-listen", "127.0.0.1:0")
	var shas []string
	for i := range 5 {
		got := uploadPNG(t, "http://"+s.addr+"/micropub/media", token, byte(100+i))
		shas = append(shas, got["sha256"].(string))
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := 0
		for _, evs := range events {
			n += len(evs)
		}
		mu.Unlock()
		if n >= 10 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a duplicate event would arrive now
	mu.Lock()
	defer mu.Unlock()
	for _, sha := range shas {
		if got := events[sha]; len(got) != 2 || got[0] != "stored" || got[1] != "pushed" {
			t.Errorf("events for %.12s = %v, want [stored pushed]", sha, got)
		}
	}
	if badSig != 0 {
		t.Errorf("%d deliveries with a wrong signature", badSig)
	}
	if got := gittest.Git(t, remote, "rev-list", "--count", "main"); got != "6" {
		t.Errorf("remote has %s commits, want the seed and 5 uploads", got)
	}
	if b, _ := os.ReadFile(pushes); strings.Count(string(b), "push") != 1 {
		t.Errorf("the remote received %d pushes, want 1 for the gallery", strings.Count(string(b), "push"))
	}
}

// TestServeHookEnvWithoutCredentials: a hook command gets spano's
// environment for its own settings, but not the variable that holds the
// git token spano pushes with.
func TestServeHookEnvWithoutCredentials(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SPANO_TEST_GIT_TOKEN", "github_pat_not-for-hooks")
	t.Setenv("SPANO_TEST_CHAT_URL", "https://chat.example/hook")
	envFile := filepath.Join(dir, "hook.env")
	const token = "env-test-token"
	sum := sha256.Sum256([]byte(token))
	cfg := `base_url: "https://media.example.com"
data_dir: "` + filepath.Join(dir, "data") + `"
site: {url: "https://example.com"}
repo: {username: "me", password: "${SPANO_TEST_GIT_TOKEN}"}
auth:
  me: "https://example.com/"
  discover: false
  tokens: [{sha256: "` + hex.EncodeToString(sum[:]) + `", scope: "media"}]
hooks:
  - name: env
    events: [stored]
    command: ["sh", "-c", "env > '` + envFile + `.tmp' && mv '` + envFile + `.tmp' '` + envFile + `'"]
`
	path := filepath.Join(dir, "spano.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, "serve", "-config", path, "-listen", "127.0.0.1:0")
	uploadPNG(t, "http://"+s.addr+"/micropub/media", token, 7)
	var env []byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var err error
		if env, err = os.ReadFile(envFile); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if len(env) == 0 {
		t.Fatal("the hook did not run")
	}
	for _, want := range []string{"SPANO_TEST_CHAT_URL=https://chat.example/hook", "SPANO_EVENT=stored"} {
		if !strings.Contains(string(env), want+"\n") {
			t.Errorf("hook environment lacks %s", want)
		}
	}
	if strings.Contains(string(env), "not-for-hooks") {
		t.Error("hook environment holds the git token")
	}
}
