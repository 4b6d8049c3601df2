package repo

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"spano/internal/gittest"
)

// The pusher reads a group's objects from memory, and the push drops
// them: a commit's objects are shared once the branch names them, and
// gone once the remote has them.
func TestRecentObjectsPushed(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	r := open(t, Options{Remote: remote, Push: PushAsync, PushDelay: time.Hour})
	file, p := media(t, 5000)
	res, err := r.Commit(context.Background(), upload(file, p))
	if err != nil {
		t.Fatal(err)
	}
	h := plumbing.NewHash(res.Commit)
	if _, ok := r.recent.get(h); !ok {
		t.Fatal("the committed, unpushed commit is not shared with the pusher")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil { // pushes what is pending
		t.Fatal(err)
	}
	if _, ok := r.recent.get(h); ok || r.recent.bytes != 0 {
		t.Errorf("after the push: commit still shared %v, %d bytes held", ok, r.recent.bytes)
	}
	if !onRemote(remote, p) {
		t.Error("the file is not on the remote")
	}
}

// recentObjects holds at most recentBytes: past it, it starts again.
func TestRecentObjectsBound(t *testing.T) {
	c := newRecentObjects()
	big := func(b byte) plumbing.EncodedObject { return memoryBlobOf(bytes.Repeat([]byte{b}, recentBytes/2-1)) }
	a, b, d := big(1), big(2), big(3)
	c.add([]plumbing.EncodedObject{a, b})
	c.add([]plumbing.EncodedObject{a}) // again: counted once
	if c.bytes != a.Size()+b.Size() {
		t.Fatalf("bytes %d, want %d", c.bytes, a.Size()+b.Size())
	}
	c.add([]plumbing.EncodedObject{d})
	if _, ok := c.get(a.Hash()); ok || c.bytes > recentBytes {
		t.Errorf("over the bound: first object kept %v, %d bytes", ok, c.bytes)
	}
	if _, ok := c.get(d.Hash()); !ok {
		t.Error("the object that filled the map was dropped")
	}
	c.forget([]plumbing.Hash{d.Hash()})
	if _, ok := c.get(d.Hash()); ok {
		t.Error("forget kept the object")
	}
}

func memoryBlobOf(data []byte) plumbing.EncodedObject {
	obj := &plumbing.MemoryObject{}
	obj.SetType(plumbing.BlobObject)
	obj.Write(data)
	obj.Hash()
	return obj
}
