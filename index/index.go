// Package index keeps, in memory, the list of media currently on the site
// repository's branch, so that the media endpoint's queries (q=source,
// q=last, url lookups, delete) never walk history on a request.
//
// The git repository is the database: Load builds the index from the
// branch head's tree (what exists, and how large) and from the commits
// that added those files (when, and the trailers spano wrote: type,
// client, filename, image size), walking history only until every file
// present is dated. Apply keeps it current from the repository's notices:
// commits made here, and commits that arrived by fetch from another spano
// or a person. The one thing kept beside the repository is a snapshot
// of the index for the next start (see Save), believed only while the
// branch holds the very files it describes.
//
// Items are ordered newest first by the author time of the commit that
// added them; commits made here within one second keep their commit
// order. (A commit fetched from elsewhere that has the same second as a
// local one sorts above it.)
package index

import (
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"spano/hashstore"
	"spano/record"
	"spano/repo"
)

// ErrBadCursor is returned by Page for an `after` cursor it did not make.
var ErrBadCursor = errors.New("bad paging cursor")

// Item is one original on the branch, with what is known about it.
type Item struct {
	Path      string    // repository path of the original
	SHA256    string    // hash of its bytes, from the path
	Ext       string    // extension, from the path
	Type      string    // MIME type: the Media-Type trailer, else from Ext
	Size      int64     // bytes
	Width     int       // displayed image size; 0 when unknown or not an image
	Height    int       //
	Published time.Time // author time of the commit that added it
	Client    string    // Media-Client trailer: the token's client_id
	Filename  string    // Media-Filename trailer: the client's name for it
	Storage   string    // record.StorageRepo or record.StorageS3 (no blob on the branch)
	Duration  float64   // seconds, for video and audio; 0 when unknown
	Poster    string    // URL of a video's poster frame, from its record
	// Commit is the commit that added the file, "" when not known: an
	// item loaded from its record learns it on its first query (see
	// Page), and one older than a shallow clone's history never does.
	Commit string
	// Trailers are the Media-* trailers of the commit that added the
	// file, so that its delete commit can carry the same.
	Trailers   []repo.Trailer
	Thumbnails []Thumbnail // by width, ascending
}

// Thumbnail is one thumbnail of an image on the branch.
type Thumbnail struct {
	Path          string // repository path
	Type          string // MIME type, from the extension
	Width, Height int    // Height is 0 when the original's size is unknown
}

// Options configure an Index.
type Options struct {
	// Store defines the media layout: which paths are originals and which
	// thumbnails.
	Store *hashstore.Store
	// MediaDir is media.dir, the folder Load lists ("" for the root).
	MediaDir string
	// Layout says where upload records are (Layout.RecordDir); with
	// records on, Load reads them instead of walking history. The zero
	// value: no records.
	Layout record.Layout
	// Snapshot is the file where the index is kept between runs (see
	// Save); "" for none: every Load builds the index from the branch.
	Snapshot string
	Logger   *slog.Logger // nil: discard
}

// Index is the in-memory list of media on the branch. It is safe for
// concurrent use: queries take a read lock; Apply and Load a write lock,
// held only to change the lists, never during I/O.
type Index struct {
	store    *hashstore.Store
	mediaDir string
	layout   record.Layout
	snapshot string
	log      *slog.Logger

	walkMu sync.Mutex // one lazy walk for commits at a time (see findCommits)

	mu     sync.RWMutex
	repo   *repo.Repo    // set by Load; reads for Apply and lazy facts
	loaded bool          // Load finished; before that, notices queue
	queue  []repo.Notice // notices that arrived before Load finished
	order  []*entry      // ascending by (Published, seq): newest last
	byPath map[string]*entry
	bySHA  map[string]*entry
	seq    uint64 // last sequence number given out
}

// entry is an Item with its place in the order and what is still to be
// learned about it lazily.
type entry struct {
	Item
	seq        uint64
	needSize   bool // Size unknown: Stat on first query
	needDims   bool // an image without Media-Width/Height: probe on first query
	needCommit bool // loaded from its record: find Commit on first query
	needRecord bool // its record arrived by a commit: read it on first query
	hasRecord  bool // its record file is on the branch
}

// New returns an empty index. Wire Apply into the repository's Notify
// before the repository opens, then call Load: notices that arrive
// meanwhile are kept and applied once Load is done.
func New(opts Options) *Index {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Layout.Store == nil {
		opts.Layout.Store = opts.Store
	}
	return &Index{
		store:    opts.Store,
		mediaDir: strings.Trim(opts.MediaDir, "/"),
		layout:   opts.Layout,
		snapshot: opts.Snapshot,
		log:      log.With("system", "index"),
		byPath:   map[string]*entry{},
		bySHA:    map[string]*entry{},
	}
}

// Len returns the number of originals on the branch.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.order)
}

// before orders entries by publication time, then by sequence.
func before(a, b *entry) bool {
	if !a.Published.Equal(b.Published) {
		return a.Published.Before(b.Published)
	}
	return a.seq < b.seq
}

// position returns where e is, or would be inserted, in x.order.
func (x *Index) position(e *entry) int {
	i, _ := slices.BinarySearchFunc(x.order, e, func(a, b *entry) int {
		switch {
		case before(a, b):
			return -1
		case before(b, a):
			return 1
		}
		return 0
	})
	return i
}

// insert adds e (which must not be in the index) in its place. Locked.
func (x *Index) insert(e *entry) {
	x.order = slices.Insert(x.order, x.position(e), e)
	x.byPath[e.Path] = e
	x.bySHA[e.SHA256] = e
}

// remove takes the original at path out of the index. Locked.
func (x *Index) remove(path string) {
	e, ok := x.byPath[path]
	if !ok {
		return
	}
	if i := x.position(e); i < len(x.order) && x.order[i] == e {
		x.order = slices.Delete(x.order, i, i+1)
	}
	delete(x.byPath, path)
	if x.bySHA[e.SHA256] == e {
		delete(x.bySHA, e.SHA256)
	}
}

// snapshot copies e's item so the caller can use it without the lock.
func (e *entry) snapshot() Item {
	it := e.Item
	it.Trailers = slices.Clone(e.Trailers)
	it.Thumbnails = slices.Clone(e.Thumbnails)
	return it
}
