package repo

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// overlay is the writer's object store: the trees and commits of a group,
// and its blobs of up to packBlobMax bytes, are kept in memory, where the
// later commits of the group read them, and at the end of the group
// written as one pack file and its index instead of one loose file each
// (about eight per upload, each with its folder, temp file, rename and
// two syncs). Larger blobs are not in it: Commit and WriteBlob write them
// loose, before the commit.
//
// The objects of written packs stay in memory until they add up to
// overlayBytes, then the storage under it is reopened (and reads the
// indexes of the new packs): the next groups read the trees the last
// ones wrote, and a storage that does not know their pack reopens on
// every miss.
type overlay struct {
	*storage
	mem   map[plumbing.Hash]plumbing.EncodedObject
	group []plumbing.EncodedObject // written in this group, not yet in a pack
	bytes int64                    // size of the objects in mem
}

// overlayBytes bounds the memory the overlay holds: about 2,500 commits
// into a 20,000-file repository (a commit's trees are ~13 KB there).
const overlayBytes = 32 << 20

func newOverlay(st *storage) *overlay {
	return &overlay{storage: st, mem: map[plumbing.Hash]plumbing.EncodedObject{}}
}

// NewEncodedObject returns an object held in memory.
func (o *overlay) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }

// SetEncodedObject keeps obj in memory, to be written with the group.
func (o *overlay) SetEncodedObject(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	h := obj.Hash()
	if _, ok := o.mem[h]; ok {
		return h, nil
	}
	if _, ok := obj.(*plumbing.MemoryObject); !ok {
		return plumbing.ZeroHash, fmt.Errorf("write object %s: not in memory", h)
	}
	o.mem[h] = obj
	o.bytes += obj.Size()
	o.group = append(o.group, obj)
	return h, nil
}

// EncodedObject reads object h from memory, else from the repository.
func (o *overlay) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if obj, ok := o.mem[h]; ok {
		if t != plumbing.AnyObject && obj.Type() != t {
			return nil, plumbing.ErrObjectNotFound
		}
		return obj, nil
	}
	return o.storage.EncodedObject(t, h)
}

// HasEncodedObject reports whether h is in memory or in the repository.
func (o *overlay) HasEncodedObject(h plumbing.Hash) error {
	if _, ok := o.mem[h]; ok {
		return nil
	}
	return o.storage.HasEncodedObject(h)
}

// EncodedObjectSize is the size of object h.
func (o *overlay) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	if obj, ok := o.mem[h]; ok {
		return obj.Size(), nil
	}
	return o.storage.EncodedObjectSize(h)
}

// writePack writes the group's objects as a pack and its index, under
// temporary names in objects/pack; nil when the group wrote none.
func (o *overlay) writePack(repo string) (*groupPack, error) {
	if len(o.group) == 0 {
		return nil, nil
	}
	return writeGroupPack(filepath.Join(repo, "objects", "pack"), o.group)
}

// drop forgets the group's objects: its commits are not on the branch,
// and a later group that makes the same objects must write them again.
func (o *overlay) drop() {
	for _, obj := range o.group {
		o.bytes -= obj.Size()
		delete(o.mem, obj.Hash())
	}
	o.group = nil
}

// written closes the group, its pack in place, and reopens the storage
// when the overlay holds overlayBytes. It returns the group's objects.
func (o *overlay) written() []plumbing.EncodedObject {
	objs := o.group
	o.group = nil
	if o.bytes >= overlayBytes {
		o.storage.reopen()
		o.mem = map[plumbing.Hash]plumbing.EncodedObject{}
		o.bytes = 0
	}
	return objs
}

// A groupPack is a pack and its index written under temporary names:
// synced, then installed (renamed, the index last, as git does: a pack
// is seen by readers once its index is there).
type groupPack struct {
	tmpPack, tmpIdx string
	pack, idx       string
}

// Temporary names of group packs: removeTempPacks removes only these,
// not the temp files of a git command running beside spano.
const (
	tempPackPrefix = "tmp_spano_pack_"
	tempIdxPrefix  = "tmp_spano_idx_"
)

func (p *groupPack) files() []string { return []string{p.tmpPack, p.tmpIdx} }

func (p *groupPack) install() error {
	if err := os.Rename(p.tmpPack, p.pack); err != nil {
		return fmt.Errorf("install pack: %w", err)
	}
	if err := os.Rename(p.tmpIdx, p.idx); err != nil {
		return fmt.Errorf("install pack: %w", err)
	}
	return nil
}

func (p *groupPack) abort() {
	os.Remove(p.tmpPack)
	os.Remove(p.tmpIdx)
}

// packEntry is one object's place in a pack, for its index.
type packEntry struct {
	hash   plumbing.Hash
	offset int64
	crc    uint32
}

// writeGroupPack writes objs as a version 2 pack in dir, without deltas,
// and its version 2 index.
func writeGroupPack(dir string, objs []plumbing.EncodedObject) (*groupPack, error) {
	f, err := os.CreateTemp(dir, tempPackPrefix)
	if errors.Is(err, fs.ErrNotExist) { // go-git's init makes no objects/pack
		if err = os.MkdirAll(dir, 0o755); err == nil {
			f, err = os.CreateTemp(dir, tempPackPrefix)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("write pack: %w", err)
	}
	p := &groupPack{tmpPack: f.Name()}
	entries, sum, err := writePackData(f, len(objs), func(i int) (plumbing.EncodedObject, error) { return objs[i], nil })
	if err == nil {
		err = f.Chmod(0o444) // as git leaves its packs
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		p.tmpIdx, err = writePackIndex(dir, entries, sum)
	}
	if err != nil {
		p.abort()
		return nil, fmt.Errorf("write pack: %w", err)
	}
	name := filepath.Join(dir, "pack-"+fmt.Sprintf("%x", sum))
	p.pack, p.idx = name+".pack", name+".idx"
	return p, nil
}

// writePackData writes a version 2 pack of n objects, without deltas,
// get(i) giving the i-th, and returns where each object is and the
// pack's checksum, its last 20 bytes. Each object is read and deflated
// on its way out, so memory does not depend on the objects' sizes.
func writePackData(w io.Writer, n int, get func(i int) (plumbing.EncodedObject, error)) ([]packEntry, []byte, error) {
	sum := sha1.New()
	cw := &countWriter{w: io.MultiWriter(w, sum)}
	bw := bufio.NewWriterSize(cw, 64<<10)
	var hdr [12]byte
	copy(hdr[:], "PACK")
	binary.BigEndian.PutUint32(hdr[4:], 2)
	binary.BigEndian.PutUint32(hdr[8:], uint32(n))
	bw.Write(hdr[:])
	entries := make([]packEntry, n)
	crc := crc32.NewIEEE()
	out := io.MultiWriter(bw, crc)
	for i := range n {
		obj, err := get(i)
		if err != nil {
			return nil, nil, err
		}
		crc.Reset()
		entries[i] = packEntry{hash: obj.Hash(), offset: cw.n + int64(bw.Buffered())}
		out.Write(packEntryHeader(obj.Type(), obj.Size()))
		if err := deflateObject(out, obj); err != nil {
			return nil, nil, fmt.Errorf("pack %s: %w", obj.Hash(), err)
		}
		entries[i].crc = crc.Sum32()
	}
	if err := bw.Flush(); err != nil {
		return nil, nil, err
	}
	s := sum.Sum(nil)
	if _, err := w.Write(s); err != nil {
		return nil, nil, err
	}
	return entries, s, nil
}

// deflateObject writes obj's content to w, deflated: a blob that does
// not deflate (a PNG, a JPEG) in stored blocks, as a loose blob.
func deflateObject(w io.Writer, obj plumbing.EncodedObject) error {
	rd, err := obj.Reader()
	if err != nil {
		return err
	}
	defer rd.Close()
	level := objectCompression
	var head []byte
	if obj.Type() == plumbing.BlobObject {
		head = make([]byte, min(obj.Size(), probeSize))
		if _, err := io.ReadFull(rd, head); err != nil {
			return err
		}
		level = blobCompression(head)
	}
	zw := getZlib(w, level)
	defer putZlib(zw)
	if _, err := zw.Write(head); err != nil {
		return err
	}
	if _, err := io.Copy(zw, rd); err != nil {
		return err
	}
	return zw.Close()
}

// writePackIndex writes the version 2 index of a pack: magic and
// version, 256 fan-out counts, the sorted names, their CRC-32s, their
// offsets (31 bits, or an index into a table of 64-bit ones), the pack's
// checksum and the index's own.
func writePackIndex(dir string, entries []packEntry, packSum []byte) (string, error) {
	slices.SortFunc(entries, func(a, b packEntry) int { return bytes.Compare(a.hash[:], b.hash[:]) })
	var b bytes.Buffer
	b.Write([]byte{0xff, 't', 'O', 'c', 0, 0, 0, 2})
	var fan [256]uint32
	for _, e := range entries {
		fan[e.hash[0]]++
	}
	var n uint32
	for i := range fan {
		n += fan[i]
		b.Write(binary.BigEndian.AppendUint32(nil, n))
	}
	for _, e := range entries {
		b.Write(e.hash[:])
	}
	for _, e := range entries {
		b.Write(binary.BigEndian.AppendUint32(nil, e.crc))
	}
	var large []int64
	for _, e := range entries {
		off := uint32(e.offset)
		if e.offset >= 1<<31 {
			off = 1<<31 | uint32(len(large))
			large = append(large, e.offset)
		}
		b.Write(binary.BigEndian.AppendUint32(nil, off))
	}
	for _, off := range large {
		b.Write(binary.BigEndian.AppendUint64(nil, uint64(off)))
	}
	b.Write(packSum)
	s := sha1.Sum(b.Bytes())
	b.Write(s[:])
	f, err := os.CreateTemp(dir, tempIdxPrefix)
	if err != nil {
		return "", err
	}
	_, err = f.Write(b.Bytes())
	if err == nil {
		err = f.Chmod(0o444)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// removeTempPacks deletes the group packs a killed run left half
// written: they were never installed, so nothing names their objects.
func removeTempPacks(path string) error {
	dir := filepath.Join(path, "objects", "pack")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove temp packs: %w", err)
	}
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, tempPackPrefix) || strings.HasPrefix(n, tempIdxPrefix) {
			if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove temp packs: %w", err)
			}
		}
	}
	return nil
}
