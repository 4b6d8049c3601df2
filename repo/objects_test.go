package repo

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestOpenRemovesTempBlobs: a run killed inside writeBlob leaves a
// half-written object as large as the upload; the next Open removes it
// and leaves everything else in objects/ alone.
func TestOpenRemovesTempBlobs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clone.git")
	r := open(t, Options{Path: path})
	file, p := media(t, 5000)
	if _, err := r.Commit(context.Background(), upload(file, p)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}

	objects := filepath.Join(path, "objects")
	partial := filepath.Join(objects, tempBlobPrefix+"123456")
	other := filepath.Join(objects, "not-ours")
	for _, f := range []string{partial, other} {
		if err := os.WriteFile(f, []byte("half an object"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r = open(t, Options{Path: path})
	if _, err := os.Stat(partial); !os.IsNotExist(err) {
		t.Errorf("temp blob after Open: %v, want it removed", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a file that is not a temp blob: %v, want it kept", err)
	}
	if _, err := r.Stat(context.Background(), p); err != nil {
		t.Errorf("committed file after Open: %v", err)
	}
}

// TestReadOnlyLeavesTempBlobs: spano fsck or log may open the repository
// while spano serve is writing a blob; a read-only Open must not remove
// it, nor commit, nor create a missing repository.
func TestReadOnlyLeavesTempBlobs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clone.git")
	open(t, Options{Path: path})
	live := filepath.Join(path, "objects", tempBlobPrefix+"live")
	if err := os.WriteFile(live, []byte("being written"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := open(t, Options{Path: path, ReadOnly: true})
	if _, err := os.Stat(live); err != nil {
		t.Errorf("read-only Open removed a temp blob: %v", err)
	}
	file, p := media(t, 100)
	if _, err := r.Commit(context.Background(), upload(file, p)); err == nil {
		t.Error("Commit on a read-only repository succeeded")
	}
	if _, err := Open(context.Background(), Options{Path: filepath.Join(t.TempDir(), "none.git"), ReadOnly: true}); err == nil {
		t.Error("read-only Open of a missing repository succeeded")
	}
}
