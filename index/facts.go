package index

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"spano/hashstore"
	"spano/repo"
)

// Trailer keys spano writes on upload commits (see server/upload.go). The
// index reads them back so that it needs no database.
const (
	TrailerSHA256   = "Media-SHA256"
	TrailerType     = "Media-Type"
	TrailerSize     = "Media-Size"
	TrailerWidth    = "Media-Width"
	TrailerHeight   = "Media-Height"
	TrailerClient   = "Media-Client"
	TrailerFilename = "Media-Filename"
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
	e := &entry{Item: Item{Path: path, SHA256: r.SHA256, Ext: r.Ext, Published: c.Time}}
	e.Type, _ = hashstore.TypeFor(r.Ext)
	e.needSize = true
	if strings.EqualFold(c.Message.Value(TrailerSHA256), r.SHA256) {
		m := c.Message
		if t := m.Value(TrailerType); t != "" {
			if ext, ok := hashstore.ExtFor(t); ok && ext == r.Ext {
				e.Type = t
			}
		}
		if n, err := strconv.ParseInt(m.Value(TrailerSize), 10, 64); err == nil && n >= 0 {
			e.Size, e.needSize = n, false
		}
		w, werr := strconv.Atoi(m.Value(TrailerWidth))
		h, herr := strconv.Atoi(m.Value(TrailerHeight))
		if werr == nil && herr == nil && w > 0 && h > 0 {
			e.Width, e.Height = w, h
		}
		e.Client = m.Value(TrailerClient)
		e.Filename = m.Value(TrailerFilename)
		for _, t := range m.Trailers {
			if strings.HasPrefix(strings.ToLower(t.Key), "media-") {
				e.Trailers = append(e.Trailers, t)
			}
		}
	}
	e.needDims = isImage(e.Type) && (e.Width == 0 || e.Height == 0)
	return e
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
	ts := append(slices.Clone(e.Thumbnails), Thumbnail{Path: path, Width: w})
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
