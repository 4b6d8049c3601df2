package index

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Paging limits of q=source.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// Query selects a page of items, newest first.
type Query struct {
	// Limit is the page size: 0 means DefaultLimit, more than MaxLimit
	// means MaxLimit.
	Limit int
	// Offset skips that many matching items (after the cursor, if any).
	Offset int
	// After is a cursor from an earlier Page: the page starts with the
	// item after the last one of that page.
	After string
	// Type filters by MIME type: a major type ("image", or "image/*") or
	// an exact type ("image/png"). "" matches everything.
	Type string
}

// Page is one page of items.
type Page struct {
	Items []Item
	// After is the cursor for the next page; "" when no item follows.
	// It names the page's last item, not a position, so it stays valid
	// when new uploads arrive at the top.
	After string
}

// Page returns the items q selects. It fails only with ErrBadCursor (and
// a cancelled ctx).
func (x *Index) Page(ctx context.Context, q Query) (Page, error) {
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = DefaultLimit
	case limit > MaxLimit:
		limit = MaxLimit
	}
	var (
		at   time.Time
		from string
	)
	if q.After != "" {
		var err error
		if at, from, err = x.decodeCursor(q.After); err != nil {
			return Page{}, err
		}
	}

	var page Page
	var need []*entry
	x.mu.RLock()
	start := len(x.order) - 1
	if q.After != "" {
		if e := x.byPath[from]; e != nil && e.Published.Equal(at) {
			start = x.position(e) - 1
		} else {
			// The cursor's item is gone: go on with what is older than it.
			start = sort.Search(len(x.order), func(i int) bool { return !x.order[i].Published.Before(at) }) - 1
		}
	}
	skip := max(q.Offset, 0)
	var last *entry
	for i := start; i >= 0; i-- {
		e := x.order[i]
		if !matchType(e.Type, q.Type) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		if len(page.Items) == limit {
			page.After = encodeCursor(last)
			break
		}
		page.Items = append(page.Items, e.snapshot())
		need = append(need, e)
		last = e
	}
	x.mu.RUnlock()
	if err := x.complete(ctx, page.Items, need); err != nil {
		return Page{}, err
	}
	return page, nil
}

// Get returns the original at repository path.
func (x *Index) Get(ctx context.Context, path string) (Item, bool, error) {
	x.mu.RLock()
	e, ok := x.byPath[path]
	var it Item
	if ok {
		it = e.snapshot()
	}
	x.mu.RUnlock()
	if !ok {
		return Item{}, false, nil
	}
	items := []Item{it}
	if err := x.complete(ctx, items, []*entry{e}); err != nil {
		return Item{}, false, err
	}
	return items[0], true, nil
}

// Unknown reports whether the index, loaded, holds nothing at path and
// no file with the SHA-256 sha. Before Load finishes it knows nothing and
// reports false. It lags the branch by the commits a fetch brought that
// it has not applied yet, so "unknown" is a hint, not the answer: the
// repository's writer checks again at commit time.
func (x *Index) Unknown(path, sha string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if !x.loaded {
		return false
	}
	_, atPath := x.byPath[path]
	_, bySHA := x.bySHA[sha]
	return !atPath && !bySHA
}

// Latest returns the newest original.
func (x *Index) Latest(ctx context.Context) (Item, bool, error) {
	p, err := x.Page(ctx, Query{Limit: 1})
	if err != nil || len(p.Items) == 0 {
		return Item{}, false, err
	}
	return p.Items[0], true, nil
}

// matchType reports whether typ is selected by the filter want.
func matchType(typ, want string) bool {
	if want == "" {
		return true
	}
	want = strings.ToLower(want)
	if major, ok := strings.CutSuffix(want, "/*"); ok {
		want = major
	}
	if !strings.Contains(want, "/") {
		return strings.HasPrefix(typ, strings.TrimSuffix(want, "/")+"/")
	}
	return typ == want
}

// A cursor is the publication time and path of a page's last item,
// base64url-encoded so clients treat it as opaque.
func encodeCursor(e *entry) string {
	s := strconv.FormatInt(e.Published.Unix(), 10) + " " + e.Path
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func (x *Index) decodeCursor(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("cursor %.40q: %w", c, ErrBadCursor)
	}
	secs, path, ok := strings.Cut(string(b), " ")
	n, err := strconv.ParseInt(secs, 10, 64)
	if !ok || err != nil {
		return time.Time{}, "", fmt.Errorf("cursor %.40q: %w", c, ErrBadCursor)
	}
	if ref, ok := x.ref(path); !ok || ref.Width > 0 {
		return time.Time{}, "", fmt.Errorf("cursor %.40q: %w", c, ErrBadCursor)
	}
	return time.Unix(n, 0), path, nil
}
