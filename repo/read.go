package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Entry describes a file on the branch.
type Entry struct {
	Path string
	Size int64
	Blob string // git blob hash
}

// reader serves reads of committed files. It has its own storage, behind
// a mutex because go-git's storage is not safe for concurrent use; the
// lock is held to find an object, not while its bytes are streamed.
type reader struct {
	mu sync.Mutex
	st *storage
}

// Stat returns the entry at path on the branch, or ErrNotFound.
func (r *Repo) Stat(ctx context.Context, path string) (Entry, error) {
	e, _, err := r.find(ctx, path)
	return e, err
}

// Content is a committed file's bytes, seekable for range requests.
type Content interface {
	io.ReadSeekCloser
}

// Open returns the bytes of the file at path on the branch. The content
// streams from the object store; seeking back re-reads from the start.
func (r *Repo) Open(ctx context.Context, path string) (Content, Entry, error) {
	e, obj, err := r.find(ctx, path)
	if err != nil {
		return nil, Entry{}, err
	}
	return &blobReader{obj: obj, size: e.Size}, e, nil
}

func (r *Repo) find(ctx context.Context, path string) (Entry, plumbing.EncodedObject, error) {
	if !validPath(path) {
		return Entry{}, nil, ErrNotFound
	}
	head, err := r.Head(ctx)
	if err != nil {
		return Entry{}, nil, err
	}
	if head == "" {
		return Entry{}, nil, ErrNotFound
	}
	rd := r.reader
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return rd.find(plumbing.NewHash(head), path)
}

func (rd *reader) find(head plumbing.Hash, path string) (Entry, plumbing.EncodedObject, error) {
	c, err := object.GetCommit(rd.st, head)
	if err != nil {
		return Entry{}, nil, fmt.Errorf("read head: %w", err)
	}
	te, err := lookup(rd.st, c.TreeHash, path)
	if err != nil {
		return Entry{}, nil, err
	}
	if te.Mode != filemode.Regular && te.Mode != filemode.Executable {
		return Entry{}, nil, ErrNotFound
	}
	obj, err := rd.st.EncodedObject(plumbing.BlobObject, te.Hash)
	if err != nil {
		return Entry{}, nil, fmt.Errorf("read blob %s: %w", te.Hash, err)
	}
	return Entry{Path: path, Size: obj.Size(), Blob: te.Hash.String()}, obj, nil
}

// blobReader makes a git object seekable: reads stream through the
// object's reader; a seek elsewhere than the current position reopens
// it and skips forward. http.ServeContent seeks to learn the size and to
// serve ranges, so most requests read the object once.
type blobReader struct {
	obj  plumbing.EncodedObject
	size int64
	pos  int64 // logical position
	rc   io.ReadCloser
	at   int64 // position of rc
}

func (b *blobReader) Read(p []byte) (int, error) {
	if b.pos >= b.size {
		return 0, io.EOF
	}
	if b.rc == nil || b.at > b.pos {
		if b.rc != nil {
			b.rc.Close()
		}
		rc, err := b.obj.Reader()
		if err != nil {
			return 0, err
		}
		b.rc, b.at = rc, 0
	}
	if b.at < b.pos {
		n, err := io.CopyN(io.Discard, b.rc, b.pos-b.at)
		b.at += n
		if err != nil {
			return 0, err
		}
	}
	n, err := b.rc.Read(p)
	b.pos += int64(n)
	b.at += int64(n)
	return n, err
}

func (b *blobReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += b.pos
	case io.SeekEnd:
		offset += b.size
	default:
		return 0, errors.New("seek: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("seek: negative position")
	}
	b.pos = offset
	return offset, nil
}

func (b *blobReader) Close() error {
	if b.rc != nil {
		return b.rc.Close()
	}
	return nil
}
