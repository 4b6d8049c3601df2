package repo

import (
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
)

// recentObjects are the objects of the groups the writer committed and
// the pusher has not pushed yet, as the writer made them, in memory: the
// pusher reads them here instead of from the group packs, which its
// storage would have to find (open again, reading every pack's index)
// and inflate. Objects are immutable once made, so the two goroutines
// share them under the mutex of the map alone.
type recentObjects struct {
	mu    sync.Mutex
	objs  map[plumbing.Hash]plumbing.EncodedObject
	bytes int64
}

// recentBytes bounds the memory recentObjects holds (objects the remote
// never takes, after a re-apply, are left in it until then): past it the
// map starts again empty, and the pusher reads the rest from the packs.
const recentBytes = 64 << 20

func newRecentObjects() *recentObjects {
	return &recentObjects{objs: map[plumbing.Hash]plumbing.EncodedObject{}}
}

// add shares objs, whose hashes are computed already.
func (c *recentObjects) add(objs []plumbing.EncodedObject) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, o := range objs {
		if _, ok := c.objs[o.Hash()]; ok {
			continue
		}
		if c.bytes+o.Size() > recentBytes {
			clear(c.objs)
			c.bytes = 0
		}
		c.objs[o.Hash()] = o
		c.bytes += o.Size()
	}
}

func (c *recentObjects) get(h plumbing.Hash) (plumbing.EncodedObject, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.objs[h]
	return o, ok
}

// forget drops the objects of a push the remote took.
func (c *recentObjects) forget(hs []plumbing.Hash) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range hs {
		if o, ok := c.objs[h]; ok {
			c.bytes -= o.Size()
			delete(c.objs, h)
		}
	}
}

// recentStore is a storage that reads the recent objects first.
type recentStore struct {
	*storage
	recent *recentObjects
}

func (s recentStore) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if o, ok := s.recent.get(h); ok && (t == plumbing.AnyObject || o.Type() == t) {
		return o, nil
	}
	return s.storage.EncodedObject(t, h)
}
