package repo

import (
	"bytes"
	"errors"
	"io/fs"
	"strings"
	"time"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-billy/v5/util"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"
)

// storage is one goroutine's view of the repository's objects and refs.
// Each goroutine that works on the repository has its own, because
// go-git's storage is not safe for concurrent use; git's objects and refs
// on disk are. Pack files stay open (without KeepDescriptors go-git
// reopens the pack for every object it reads, which made walking 10,000
// commits take 40 s), so a storage must be closed when done.
//
// go-git reads the list of packs once. When git moves objects under it —
// git gc packing loose objects and deleting them, or replacing packs; a
// fetch adding a pack — an object it then cannot find makes the storage
// reopen and look again, and, while spano's own gc is running, again a
// little later for up to gcWait: a storage opened in the middle of a
// repack can list packs that are gone by the time it reads them and
// miss the one replacing them. After spano's gc changed the packs (see
// housekeeper) it reopens before its next read: an old pack it holds open
// keeps its disk space in use.
type storage struct {
	*filesystem.Storage
	path string
	gc   *housekeeper // nil: no gc runs here
	seen uint64       // gc.gen when the storage was opened
}

// gcWait bounds how long a read waits for a running gc to put an object
// it cannot find back in reach.
const gcWait = 5 * time.Second

func openStorage(path string, gc *housekeeper) *storage {
	s := &storage{path: path, gc: gc}
	s.open()
	return s
}

func (s *storage) open() {
	if s.gc != nil {
		s.seen = s.gc.gen.Load()
	}
	s.Storage = filesystem.NewStorageWithOptions(idxFS{osfs.New(s.path)}, cache.NewObjectLRU(16*cache.MiByte),
		filesystem.Options{LargeObjectThreshold: largeObjectThreshold, KeepDescriptors: true})
}

func (s *storage) reopen() {
	s.Storage.Close()
	s.open()
}

// EncodedObject reads object h as the repository on disk has it now.
func (s *storage) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (obj plumbing.EncodedObject, err error) {
	err = s.retry(func() error {
		obj, err = s.read(t, h)
		return err
	})
	return obj, err
}

// retry runs f, and again after a reopen while what it reads may have
// moved: once, and while a gc runs, with growing pauses up to gcWait.
func (s *storage) retry(f func() error) error {
	s.fresh()
	err := f()
	for pause, waited := time.Millisecond, time.Duration(0); moved(err); pause *= 2 {
		busy := s.gc != nil && s.gc.running.Load()
		s.reopen()
		if err = f(); !busy || waited >= gcWait {
			break
		}
		time.Sleep(pause)
		waited += pause
	}
	return err
}

// read reads object h. An object above largeObjectThreshold is not in
// memory: its bytes are read when wanted, by opening its pack or loose
// file again, so read checks that the file is still there.
func (s *storage) read(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	obj, err := s.Storage.EncodedObject(t, h)
	if err != nil {
		return nil, err
	}
	if _, inMemory := obj.(*plumbing.MemoryObject); inMemory {
		return obj, nil
	}
	rc, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	return obj, rc.Close()
}

// EncodedObjectSize is the size of object h as the repository on disk
// has it now.
func (s *storage) EncodedObjectSize(h plumbing.Hash) (n int64, err error) {
	err = s.retry(func() error {
		n, err = s.Storage.EncodedObjectSize(h)
		return err
	})
	return n, err
}

// fresh reopens the storage when gc ran since it was opened.
func (s *storage) fresh() {
	if s.gc != nil && s.gc.gen.Load() != s.seen {
		s.reopen()
	}
}

// moved reports whether err may come from objects that moved on disk: a
// loose object that was packed, or a pack that was replaced (go-git says
// ErrPackfileNotFound for a pack it listed that is gone when it opens it).
func moved(err error) bool {
	return errors.Is(err, plumbing.ErrObjectNotFound) || errors.Is(err, fs.ErrNotExist) ||
		errors.Is(err, dotgit.ErrPackfileNotFound)
}

// idxFS reads a pack index whole, in one read, when go-git opens it:
// go-git decodes an index with a read(2) per 4-byte count, which made
// opening a storage over the index of a 20,000-file pack take tens of
// milliseconds of system calls. (Indexes are small: 28 bytes an object.)
type idxFS struct{ billy.Filesystem }

func (f idxFS) Open(name string) (billy.File, error) {
	if !strings.HasSuffix(name, ".idx") {
		return f.Filesystem.Open(name)
	}
	b, err := util.ReadFile(f.Filesystem, name)
	if err != nil {
		return nil, err
	}
	return &memFile{name: name, Reader: bytes.NewReader(b)}, nil
}

// memFile is a read-only file held in memory.
type memFile struct {
	name string
	*bytes.Reader
}

var errReadOnly = errors.New("read-only file")

func (m *memFile) Name() string              { return m.name }
func (m *memFile) Write([]byte) (int, error) { return 0, errReadOnly }
func (m *memFile) Close() error              { return nil }
func (m *memFile) Lock() error               { return nil }
func (m *memFile) Unlock() error             { return nil }
func (m *memFile) Truncate(size int64) error { return errReadOnly }
