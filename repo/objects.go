package repo

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Media files are compressed already: deflating them again gains nothing
// and, at zlib's default level, costs most of the time of a large upload.
// spano writes its loose objects and push packs at BestSpeed, as git's own
// core.looseCompression default does. (go-git's writers use the default
// level and offer no setting.)
const objectCompression = zlib.BestSpeed

// StoredBlob is a file written into the object store by WriteBlob: its
// git object, and the SHA-256 of its bytes read on the way.
type StoredBlob struct {
	Hash   string // git blob hash, for Blob.Hash
	SHA256 string // lowercase hex SHA-256 of the file's bytes
	Size   int64
}

// WriteBlob writes file into the object store, durably, ahead of the
// Commit that names it (as Blob.Hash), and returns the SHA-256 of its
// bytes too: a caller that changed a file after hashing it learns its
// new hash from the one read that stores it.
func (r *Repo) WriteBlob(ctx context.Context, file string) (StoredBlob, error) {
	if r.opts.ReadOnly {
		return StoredBlob{}, errors.New("write blob: repository opened read-only")
	}
	sum := sha256.New()
	h, n, err := r.writeBlob(ctx, file, sum)
	if err != nil {
		return StoredBlob{}, err
	}
	return StoredBlob{Hash: h.String(), SHA256: hex.EncodeToString(sum.Sum(nil)), Size: n}, nil
}

// packBlobMax is the largest blob a commit carries to the writer in
// memory, to be written in the group's pack with its trees and commit;
// larger ones are written loose, before the commit, by the caller, so
// that a large upload does not hold up the writer. A screenshot, a
// record and most thumbnails are under it: each is then no file of its
// own (create, write, sync, rename, its folder synced), only bytes in the
// one pack the group syncs once.
const packBlobMax = 1 << 20

// writeBlobs writes the blobs of bs that have no Hash yet, at once (an
// upload's file and its record are synced in one round, not two), or,
// those of up to packBlobMax bytes, reads them into memory objects for
// the writer to pack. hashes[i] is the hash of bs[i].
func (r *Repo) writeBlobs(ctx context.Context, bs []Blob) (hashes []plumbing.Hash, packed []plumbing.EncodedObject, err error) {
	hashes = make([]plumbing.Hash, len(bs))
	inMemory := make([]plumbing.EncodedObject, len(bs))
	errs := make([]error, len(bs))
	var wg sync.WaitGroup
	for i, b := range bs {
		if b.Hash != "" {
			hashes[i] = plumbing.NewHash(b.Hash)
			continue
		}
		wg.Go(func() {
			obj, err := smallBlob(b)
			var h plumbing.Hash
			switch {
			case err != nil:
			case obj != nil:
				h, inMemory[i] = obj.Hash(), obj
			case b.Data != nil:
				h, _, err = r.writeObject(ctx, bytes.NewReader(b.Data), int64(len(b.Data)), nil)
			default:
				h, _, err = r.writeBlob(ctx, b.File, nil)
			}
			if err != nil {
				errs[i] = fmt.Errorf("commit %s: %w", b.Path, err)
			} else {
				hashes[i] = h
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	for _, obj := range inMemory {
		if obj != nil {
			packed = append(packed, obj)
		}
	}
	return hashes, packed, nil
}

// smallBlob returns b as a blob object in memory when it has at most
// packBlobMax bytes (nil, nil when it has more).
func smallBlob(b Blob) (plumbing.EncodedObject, error) {
	obj := &plumbing.MemoryObject{}
	obj.SetType(plumbing.BlobObject)
	if b.Data != nil {
		if len(b.Data) > packBlobMax {
			return nil, nil
		}
		obj.Write(b.Data)
		return obj, nil
	}
	f, err := os.Open(b.File)
	if err != nil {
		return nil, fmt.Errorf("write blob: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() > packBlobMax {
		return nil, err
	}
	if n, err := io.Copy(obj, f); err != nil || n != fi.Size() {
		return nil, fmt.Errorf("write blob: file changed while reading: %d of %d bytes: %v", n, fi.Size(), err)
	}
	return obj, nil
}

// writeBlob streams a local file into the object store as a loose object
// and returns its hash, writing the bytes to also too (when not nil).
// Memory use does not depend on the file's size. The object appears by
// rename, so a reader never sees half of it, and two uploads of the same
// bytes at once are harmless.
func (r *Repo) writeBlob(ctx context.Context, file string, also io.Writer) (plumbing.Hash, int64, error) {
	src, err := os.Open(file)
	if err != nil {
		return plumbing.ZeroHash, 0, fmt.Errorf("write blob: %w", err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return plumbing.ZeroHash, 0, fmt.Errorf("write blob: %w", err)
	}
	return r.writeObject(ctx, src, fi.Size(), also)
}

// writeObject writes the size bytes of src as a loose blob (see
// writeBlob).
func (r *Repo) writeObject(ctx context.Context, src io.Reader, size int64, also io.Writer) (plumbing.Hash, int64, error) {
	objects := filepath.Join(r.opts.Path, "objects")
	tmp, err := os.CreateTemp(objects, tempBlobPrefix)
	if err != nil {
		return plumbing.ZeroHash, 0, fmt.Errorf("write blob: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename

	h, n, err := streamBlob(tmp, &ctxReader{ctx: ctx, r: src}, size, also)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return plumbing.ZeroHash, 0, fmt.Errorf("write blob: %w", err)
	}
	dst := looseObjectPath(r.opts.Path, h)
	sync := r.opts.Syncer
	if _, err := os.Stat(dst); err == nil {
		// Already there: content-addressed, so identical; but perhaps
		// written a moment ago by an upload of the same bytes that has
		// not synced it yet, or left, unreachable, by a delete long ago:
		// its time is renewed, as git freshens an object it would write,
		// so that git prune (which removes unreachable objects older than
		// two weeks) does not take it from the commit about to name it.
		// Gone since (git gc packed it), or not ours to touch: ours is
		// written over it, as it would have been without the Stat.
		now := time.Now()
		if err := os.Chtimes(dst, now, now); err == nil {
			err := sync.SyncFile(dst)
			if err == nil {
				return h, n, nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return plumbing.ZeroHash, 0, fmt.Errorf("write blob: %w", err)
			}
		}
	}
	if err := sync.SyncFile(tmp.Name()); err != nil {
		return plumbing.ZeroHash, 0, fmt.Errorf("write blob: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o444); err != nil {
		return plumbing.ZeroHash, 0, fmt.Errorf("write blob: %w", err)
	}
	// The fan-out folder is made when missing, twice at most: git
	// prune-packed, running beside spano, deletes the folders it empties.
	err = os.Rename(tmp.Name(), dst)
	for try := 0; try < 2 && errors.Is(err, fs.ErrNotExist); try++ {
		if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
			err = os.Rename(tmp.Name(), dst)
		}
	}
	if err != nil {
		return plumbing.ZeroHash, 0, fmt.Errorf("write blob: %w", err)
	}
	// Its folder is synced by the commit that names it, with the others.
	return h, n, nil
}

// zlibPools keep zlib writers by level: a new one allocates and clears
// about a megabyte of state, which was a tenth of a commit's CPU.
var zlibPools = map[int]*sync.Pool{zlib.NoCompression: {}, zlib.BestSpeed: {}}

type pooledZlib struct {
	*zlib.Writer
	level int
}

// getZlib is a zlib writer at level (one of zlibPools) writing to w.
func getZlib(w io.Writer, level int) *pooledZlib {
	if zw, ok := zlibPools[level].Get().(*pooledZlib); ok {
		zw.Reset(w)
		return zw
	}
	zw, _ := zlib.NewWriterLevel(w, level)
	return &pooledZlib{Writer: zw, level: level}
}

func putZlib(zw *pooledZlib) {
	zw.Reset(io.Discard) // drop the reference to the destination
	zlibPools[zw.level].Put(zw)
}

// probeSize is how much of a file streamBlob deflates to see whether
// deflating it is worth the time.
const probeSize = 32 << 10

// streamBlob writes the loose object of the size bytes of src to w and
// returns its hash, writing the bytes to also too (when not nil).
//
// The hash is plain SHA-1, not go-git's collision-detecting one, which
// took a fifth of the time of an upload: the bytes are an upload that
// spano hashed itself (SHA-256, its path), not objects of someone else's
// history whose names git trusts. The one harm a crafted SHA-1
// collision could do is make an upload's path name the bytes of another
// upload by the same token holder, who can publish any bytes anyway, and
// spano fsck finds it, as the path's SHA-256 no longer matches.
//
// Files that do not deflate (JPEG, PNG, video: most media) are stored
// in zlib's stored blocks, still valid zlib (git's core.compression 0),
// as a deflate of its first probeSize bytes tells.
func streamBlob(w io.Writer, src io.Reader, size int64, also io.Writer) (plumbing.Hash, int64, error) {
	head := make([]byte, min(size, probeSize))
	if _, err := io.ReadFull(src, head); err != nil {
		return plumbing.ZeroHash, 0, fmt.Errorf("file changed while copying: %w", err)
	}
	hasher := sha1.New()
	header := fmt.Appendf(nil, "blob %d\x00", size)
	hasher.Write(header)
	bw := bufio.NewWriterSize(w, 64<<10)
	zw := getZlib(bw, blobCompression(head))
	defer putZlib(zw)
	dst := io.MultiWriter(zw, hasher)
	if also != nil {
		dst = io.MultiWriter(zw, hasher, also)
	}
	_, err := zw.Write(header)
	if err == nil {
		_, err = dst.Write(head)
	}
	var n int64
	if err == nil {
		n, err = io.Copy(dst, src)
		n += int64(len(head))
	}
	if err == nil && n != size {
		err = fmt.Errorf("file changed while copying: %d of %d bytes", n, size)
	}
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	var h plumbing.Hash
	copy(h[:], hasher.Sum(nil))
	return h, n, err
}

// blobCompression is the zlib level of a file that begins with head:
// stored, when deflating head saves under an eighth of it.
func blobCompression(head []byte) int {
	if len(head) < 512 {
		return objectCompression
	}
	var c countWriter
	c.w = io.Discard
	zw := getZlib(&c, zlib.BestSpeed)
	zw.Write(head)
	zw.Close()
	putZlib(zw)
	if c.n > int64(len(head))*7/8 {
		return zlib.NoCompression
	}
	return objectCompression
}

// tempBlobPrefix names writeBlob's temp files, so that removeTempBlobs
// removes only those.
const tempBlobPrefix = ".tmp-blob-"

// removeTempBlobs deletes the half-written objects of a run that died in
// writeBlob: a finished object is renamed into place, so a temp file is
// never referenced, and each is as large as the upload it held. Call it
// before the first writeBlob.
func removeTempBlobs(path string) error {
	objects := filepath.Join(path, "objects")
	entries, err := os.ReadDir(objects)
	if err != nil {
		return fmt.Errorf("remove temp objects: %w", err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), tempBlobPrefix) {
			if err := os.Remove(filepath.Join(objects, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove temp objects: %w", err)
			}
		}
	}
	return nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// writePack writes the objects as a version 2 packfile, without deltas
// (media does not delta), each object streamed from the store.
func writePack(w io.Writer, st storer.EncodedObjectStorer, hashes []plumbing.Hash) error {
	_, _, err := writePackData(w, len(hashes), func(i int) (plumbing.EncodedObject, error) {
		obj, err := st.EncodedObject(plumbing.AnyObject, hashes[i])
		if err != nil {
			return nil, fmt.Errorf("pack %s: %w", hashes[i], err)
		}
		return obj, nil
	})
	return err
}

// packEntryHeader encodes an object's type and size: 3 type bits and 4
// size bits in the first byte, then 7 size bits a byte, low bits first.
func packEntryHeader(t plumbing.ObjectType, size int64) []byte {
	b := []byte{byte(t)<<4 | byte(size&0x0f)}
	size >>= 4
	for size > 0 {
		b[len(b)-1] |= 0x80
		b = append(b, byte(size&0x7f))
		size >>= 7
	}
	return b
}
