package repo

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"spano/internal/gittest"
)

// TestStorageReadsAfterRepack: git gc replaces the packs a storage has
// listed but not opened yet (its repack deletes the old ones as it ends);
// a read must find the object in the new pack, not fail with "packfile
// not found" (what uploads under load got while housekeeping ran).
func TestStorageReadsAfterRepack(t *testing.T) {
	dir := t.TempDir()
	bare := filepath.Join(dir, "r.git")
	gittest.Git(t, dir, "init", "-q", "--bare", "-b", "main", bare)
	work := filepath.Join(dir, "work")
	gittest.Git(t, dir, "clone", "-q", bare, work)
	os.WriteFile(filepath.Join(work, "a.txt"), []byte("first\n"), 0o644)
	gittest.Git(t, work, "add", "a.txt")
	gittest.Git(t, work, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "first")
	gittest.Git(t, work, "push", "-q", "origin", "main")
	gittest.Git(t, bare, "repack", "-q", "-a", "-d")
	blob := plumbing.NewHash(gittest.Git(t, bare, "rev-parse", "main:a.txt"))

	s := openStorage(bare, nil)
	defer s.Close()
	if ok := s.HasEncodedObject(blob); ok != nil { // lists the packs, opens none
		t.Fatalf("blob not found before the repack: %v", ok)
	}

	// New objects, then a repack: a pack of another name replaces the old.
	os.WriteFile(filepath.Join(work, "b.txt"), []byte("second\n"), 0o644)
	gittest.Git(t, work, "add", "b.txt")
	gittest.Git(t, work, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "second")
	gittest.Git(t, work, "push", "-q", "origin", "main")
	gittest.Git(t, bare, "repack", "-q", "-a", "-d")

	obj, err := s.EncodedObject(plumbing.BlobObject, blob)
	if err != nil {
		t.Fatalf("read after the repack: %v", err)
	}
	if obj.Size() != int64(len("first\n")) {
		t.Errorf("size %d", obj.Size())
	}
}
