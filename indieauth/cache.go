package indieauth

import (
	"container/list"
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"
)

// cache remembers verified tokens by the SHA-256 of the token. It holds at
// most max entries and drops the oldest first: entries live no longer than
// cache_ttl, so the oldest are the nearest to expiry anyway, and lookups
// need only a read lock. Only valid answers are stored, so a flood of
// random tokens cannot push the owner's token out.
type cache struct {
	mu    sync.RWMutex
	max   int
	m     map[[sha256.Size]byte]*cacheEntry
	order *list.List // of [sha256.Size]byte, oldest first
}

type cacheEntry struct {
	tok   Token
	until time.Time
	elem  *list.Element
}

func newCache(max int) *cache {
	return &cache{max: max, m: make(map[[sha256.Size]byte]*cacheEntry), order: list.New()}
}

func (c *cache) get(key [sha256.Size]byte, now time.Time) (Token, bool) {
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return Token{}, false
	}
	return e.tok, true
}

func (c *cache) put(key [sha256.Size]byte, tok Token, until, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[key]; ok {
		c.remove(old.elem)
	}
	for front := c.order.Front(); front != nil; front = c.order.Front() {
		if len(c.m) < c.max && now.Before(c.m[front.Value.([sha256.Size]byte)].until) {
			break
		}
		c.remove(front)
	}
	c.m[key] = &cacheEntry{tok: tok, until: until, elem: c.order.PushBack(key)}
}

// del forgets key.
func (c *cache) del(key [sha256.Size]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok {
		c.remove(e.elem)
	}
}

func (c *cache) remove(elem *list.Element) {
	delete(c.m, elem.Value.([sha256.Size]byte))
	c.order.Remove(elem)
}

func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// flightGroup makes concurrent requests with the same new token share one
// endpoint call, like golang.org/x/sync/singleflight but without a new
// dependency, and letting each waiter give up on its own context.
type flightGroup struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]*flight
}

type flight struct {
	done chan struct{}
	tok  Token
	err  error
}

// do runs fn once for all callers that ask for key while it runs. fn runs
// in its own goroutine and must bound its own duration.
func (g *flightGroup) do(ctx context.Context, key [sha256.Size]byte, fn func() (Token, error)) (Token, error) {
	g.mu.Lock()
	f, ok := g.m[key]
	if !ok {
		f = &flight{done: make(chan struct{})}
		g.m[key] = f
		go func() {
			f.tok, f.err = fn()
			g.mu.Lock()
			delete(g.m, key)
			g.mu.Unlock()
			close(f.done)
		}()
	}
	g.mu.Unlock()
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return Token{}, fmt.Errorf("verify: %w: %w", ErrUnavailable, ctx.Err())
	}
}
