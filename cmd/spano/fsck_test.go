package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"spano/config"
	"spano/repo"
)

func TestFsck(t *testing.T) {
	site, photo, _ := uploadedSite(t)

	out, errOut, err := spano(t, "fsck", "-config", site.config)
	if err != nil {
		t.Fatalf("fsck of a sound repository: %v\n%s%s", err, out, errOut)
	}
	if !strings.Contains(out, "checked 1 originals, 2 thumbnails and 1 records under media, 0 offloaded objects: 0 problems") {
		t.Errorf("fsck said %q", out)
	}

	// Break it as a careless person could: bytes altered at a path that
	// still names the old hash, a thumbnail without its original, and a
	// file that is not content-addressed.
	rel := strings.TrimPrefix(photo, "https://example.com/")
	sum := sha256.Sum256([]byte("another file"))
	orphanHash := hex.EncodeToString(sum[:])
	orphan := "media/" + orphanHash[:2] + "/" + orphanHash[2:4] + "/" + orphanHash + "-320w.jpg"
	tampered := []byte("these are not the bytes that were uploaded")
	r, err := repo.Open(context.Background(), repo.Options{Path: filepath.Join(site.dir, "data", "site.git"), Push: repo.PushOff})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, tampered, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Commit(context.Background(), repo.Change{Delete: []string{rel}, Message: repo.Message{Subject: "remove"}}); err != nil {
		t.Fatal(err)
	}
	_, err = r.Commit(context.Background(), repo.Change{
		Add:     []repo.Blob{{Path: rel, File: file}, {Path: orphan, File: file}, {Path: "media/notes.txt", File: file}},
		Message: repo.Message{Subject: "Edit by hand"},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.Close(context.Background())

	out, _, err = spano(t, "fsck", "-config", site.config)
	if err == nil || !strings.Contains(err.Error(), "3 problems") {
		t.Errorf("fsck of a broken repository: err = %v, want 3 problems", err)
	}
	bad := sha256.Sum256(tampered)
	for _, want := range []string{
		rel + ": content hashes to " + hex.EncodeToString(bad[:]),
		orphan + ": thumbnail without its original",
		"media/notes.txt: not a content-addressed media path",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("fsck output lacks %q:\n%s", want, out)
		}
	}
}

func TestPosterRef(t *testing.T) {
	store, err := newStoreFromConfig(config.Default(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h := strings.Repeat("ab", 32)
	tests := []struct {
		path  string
		ok    bool
		width int
	}{
		{"media/ab/ab/" + h + "-poster.jpg", true, 0},
		{"media/ab/ab/" + h + "-poster-320w.jpg", true, 320},
		{"media/ab/ab/" + h + "-poster.png", false, 0},
		{"media/ab/ab/" + h + "-poster-0320w.jpg", false, 0},
		{"media/ab/ab/" + h + "-posterx.jpg", false, 0},
		{"media/cd/ab/" + h + "-poster.jpg", false, 0},
		{"media/ab/ab/" + h + "-320w.jpg", false, 0},
		{"media/ab/ab/" + h + ".jpg", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.path[13:], func(t *testing.T) {
			ref, ok := posterRef(store, tt.path)
			if ok != tt.ok || (ok && (ref.SHA256 != h || ref.Width != tt.width)) {
				t.Errorf("posterRef = %+v, %v; want ok %v width %d", ref, ok, tt.ok, tt.width)
			}
		})
	}
}
