package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spano/internal/gittest"
	"spano/repo"
)

// refusingSite is a site whose remote refuses blobs over 20 000 bytes (a
// pre-receive hook, as GitHub refuses files over 100 MB) and whose clone
// holds three unpushed commits, the second too big: the queue spano
// serve leaves blocked.
func refusingSite(t *testing.T) (config, clone, remote string, commits, paths []string) {
	t.Helper()
	dir := t.TempDir()
	remote = gittest.NewRemote(t, nil)
	gittest.RefuseBlobsOver(t, remote, 20000)
	clone = filepath.Join(dir, "data", "site.git")
	config = filepath.Join(dir, "spano.yml")
	cfg := fmt.Sprintf(`base_url: "https://media.example.com"
data_dir: %q
site:
  url: "https://example.com"
repo:
  path: %q
  remote: %q
  push: async
auth:
  me: "https://example.com/"
  discover: false
  tokens:
    - sha256: "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
      scope: media
`, filepath.Join(dir, "data"), clone, remote)
	if err := os.WriteFile(config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(context.Background(), repo.Options{Path: clone, Remote: remote, Push: repo.PushAsync, PushDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i, size := range []int{1000, 50_000, 2000} {
		b := make([]byte, size)
		rand.Read(b)
		file := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
		p := fmt.Sprintf("media/upload-%d.bin", i)
		res, err := r.Commit(context.Background(), repo.Change{Add: []repo.Blob{{Path: p, File: file}}, Message: repo.Message{Subject: "Add " + p}})
		if err != nil {
			t.Fatal(err)
		}
		commits, paths = append(commits, res.Commit), append(paths, p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // stopped before it could push: the queue stays
	r.Close(ctx)
	return config, clone, remote, commits, paths
}

func TestUnblockCommand(t *testing.T) {
	config, clone, remote, commits, paths := refusingSite(t)
	out, errOut, err := spano(t, "unblock", "-config", config)
	if err != nil {
		t.Fatalf("unblock: %v\n%s%s", err, out, errOut)
	}
	for _, want := range []string{"dropped " + commits[1], "kept at refs/spano/refused/" + commits[1], "re-applied 1 commits", "pushed the others"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "GH001: Large files detected") {
		t.Errorf("log does not say why the remote refused:\n%s", errOut)
	}
	for i, p := range paths {
		_, err := gittest.Run(remote, "cat-file", "-e", "main:"+p)
		if got, want := err == nil, i != 1; got != want {
			t.Errorf("remote has %s: %v, want %v", p, got, want)
		}
	}
	gittest.Git(t, clone, "cat-file", "-e", "refs/spano/refused/"+commits[1]+":"+paths[1])
	// Nothing is blocked any more.
	if _, _, err := spano(t, "unblock", "-config", config); err == nil || !strings.Contains(err.Error(), "nothing to unblock") {
		t.Errorf("second unblock: %v", err)
	}
}

// TestUnblockWhileServing: a running pusher (spano serve) holds the
// clone's push lock; unblock refuses and says to stop it.
func TestUnblockWhileServing(t *testing.T) {
	config, clone, remote, commits, _ := refusingSite(t)
	serving, err := repo.Open(context.Background(), repo.Options{Path: clone, Remote: remote, Push: repo.PushAsync})
	if err != nil {
		t.Fatal(err)
	}
	defer serving.Close(context.Background())
	_, _, err = spano(t, "unblock", "-config", config, "-commit", commits[2][:8])
	if err == nil || !strings.Contains(err.Error(), "stop spano serve") {
		t.Errorf("unblock beside serve: %v", err)
	}
	if _, _, err := spano(t, "unblock", "-config", config, "extra"); err == nil {
		t.Error("unblock took an argument")
	}
}
