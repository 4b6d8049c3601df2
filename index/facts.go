package index

import (
	"math"
	pathpkg "path"
	"slices"
	"strings"

	"spano/hashstore"
	"spano/record"
	"spano/repo"
)

// ref reads a repository path: an original or thumbnail below the media
// folder, in the configured layout. Anything else is not media.
func (x *Index) ref(path string) (hashstore.Ref, bool) {
	rel := x.store.URLPath(path)
	if rel == "" {
		return hashstore.Ref{}, false
	}
	r, err := x.store.Parse(rel)
	return r, err == nil
}

// newEntry describes the original at path, added by commit c. The
// commit's trailers are believed only when they name this file's hash: a
// commit by hand may add several files, or carry no trailers at all, and
// then the type comes from the extension and the size from the tree.
func newEntry(path string, r hashstore.Ref, c repo.CommitInfo) *entry {
	e := &entry{Item: Item{Path: path, SHA256: r.SHA256, Ext: r.Ext, Published: c.Time,
		Storage: record.StorageRepo, Commit: c.Hash}}
	e.Type, _ = hashstore.TypeFor(r.Ext)
	e.needSize = true
	if rec, ok := record.FromMessage(c.Message); ok && rec.SHA256 == r.SHA256 {
		if ext, ok := hashstore.ExtFor(rec.Type); ok && ext == r.Ext {
			e.Type = rec.Type
		}
		if rec.Size >= 0 {
			e.Size, e.needSize = rec.Size, false
		}
		e.Width, e.Height, e.Duration = rec.Width, rec.Height, rec.Duration
		e.Client, e.Filename, e.Storage = rec.Client, rec.Filename, rec.Storage
		for _, t := range c.Message.Trailers {
			if strings.HasPrefix(strings.ToLower(t.Key), "media-") {
				e.Trailers = append(e.Trailers, t)
			}
		}
	}
	if e.Storage == record.StorageS3 {
		e.needSize = false // no blob to read: the record says, if anything
	}
	e.needDims = isImage(e.Type) && (e.Width == 0 || e.Height == 0) && e.Storage == record.StorageRepo
	return e
}

// recordEntry is the item a record file describes; ref is its path's.
// The commit that added it is not known yet.
func recordEntry(rec record.Record, ref hashstore.Ref) *entry {
	e := &entry{Item: Item{
		Path: rec.Path, SHA256: rec.SHA256, Ext: ref.Ext, Size: rec.Size,
		Width: rec.Width, Height: rec.Height, Published: rec.Published,
		Client: rec.Client, Filename: rec.Filename, Storage: rec.Storage,
		Duration: rec.Duration, Poster: rec.Poster, Trailers: rec.Trailers(),
	}, needCommit: true, hasRecord: true}
	e.Type, _ = hashstore.TypeFor(ref.Ext)
	if ext, ok := hashstore.ExtFor(rec.Type); ok && ext == ref.Ext {
		e.Type = rec.Type
	}
	e.needSize = rec.Size < 0 && rec.Storage == record.StorageRepo
	e.needDims = isImage(e.Type) && (e.Width == 0 || e.Height == 0) && rec.Storage == record.StorageRepo
	return e
}

// merge takes from e's record file what its commit's trailers cannot
// say (the poster) or did not say.
func (e *entry) merge(rec record.Record) {
	e.hasRecord, e.needRecord = true, false
	if rec.SHA256 != e.SHA256 {
		return
	}
	e.Poster = rec.Poster
	if e.Size <= 0 && rec.Size > 0 && e.Storage == record.StorageS3 {
		e.Size = rec.Size
	}
	if e.Duration == 0 {
		e.Duration = rec.Duration
	}
	if e.Client == "" {
		e.Client = rec.Client
	}
	if e.Filename == "" {
		e.Filename = rec.Filename
	}
	if (e.Width == 0 || e.Height == 0) && rec.Width > 0 && rec.Height > 0 {
		e.Width, e.Height, e.needDims = rec.Width, rec.Height, false
		e.thumbHeights()
	}
}

// isImage reports whether items of type t have a width, height and
// thumbnails.
func isImage(t string) bool { return strings.HasPrefix(t, "image/") }

// addThumbnail records the thumbnail at path (width w) on e, once.
func (e *entry) addThumbnail(path string, w int) {
	for _, t := range e.Thumbnails {
		if t.Path == path {
			return
		}
	}
	typ, _ := hashstore.TypeFor(strings.TrimPrefix(pathpkg.Ext(path), "."))
	ts := append(slices.Clone(e.Thumbnails), Thumbnail{Path: path, Type: typ, Width: w})
	slices.SortFunc(ts, func(a, b Thumbnail) int { return a.Width - b.Width })
	e.Thumbnails = ts
	e.thumbHeights()
}

// removeThumbnail forgets the thumbnail at path.
func (e *entry) removeThumbnail(path string) {
	e.Thumbnails = slices.DeleteFunc(slices.Clone(e.Thumbnails), func(t Thumbnail) bool { return t.Path == path })
}

// thumbHeights computes the thumbnails' heights from the original's size
// the way package thumbs scales: the height is rounded, at least 1.
func (e *entry) thumbHeights() {
	if e.Width <= 0 || e.Height <= 0 {
		return
	}
	for i := range e.Thumbnails {
		t := &e.Thumbnails[i]
		t.Height = max(int(math.Round(float64(t.Width)*float64(e.Height)/float64(e.Width))), 1)
	}
}
