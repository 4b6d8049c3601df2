package gpsstrip

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
)

// xmpUUID identifies the XMP uuid box of ISO base media files.
var xmpUUID = []byte{0xBE, 0x7A, 0xCF, 0xCB, 0x97, 0xA9, 0x42, 0xE8, 0x9C, 0x71, 0x99, 0x94, 0x91, 0xE3, 0xAF, 0xAC}

// locationKeyPrefix starts every Apple QuickTime metadata key about where
// a recording was made (ISO6709, accuracy, name, body, …).
const locationKeyPrefix = "com.apple.quicktime.location."

// Limits of the box walk.
const (
	maxBoxDepth = 12
	maxBoxes    = 1 << 20
)

// containerBoxes are descended into; all other boxes are skipped by
// seeking, mdat included.
var containerBoxes = map[string]bool{
	"moov": true, "trak": true, "mdia": true, "minf": true, "udta": true,
}

// planISOBMFF walks the boxes of an MP4, MOV or M4A file and neutralises
// location boxes (©xyz, loci), Apple location keys' values and GPS in
// XMP. A neutralised box keeps its size and becomes a zero-filled free box.
func planISOBMFF(ctx context.Context, e *editor) error {
	w := &boxWalker{e: e}
	return w.walk(ctx, 0, e.size, 0)
}

type boxWalker struct {
	e     *editor
	boxes int
}

// box is one parsed box header.
type box struct {
	typ       string
	off, size int64 // whole box
	data      int64 // offset of the payload
}

func (b box) end() int64 { return b.off + b.size }

// next reads the box header at off within [off, end). Size 1 means a
// 64-bit size follows; size 0 means the box runs to end.
func (w *boxWalker) next(off, end int64, depth int) (box, error) {
	h, err := w.e.read(off, 8)
	if err != nil {
		return box{}, err
	}
	b := box{typ: string(h[4:8]), off: off, size: int64(binary.BigEndian.Uint32(h)), data: off + 8}
	switch b.size {
	case 1:
		x, err := w.e.read(off+8, 8)
		if err != nil {
			return box{}, err
		}
		s := binary.BigEndian.Uint64(x)
		if s > uint64(end-off) {
			return box{}, malformed("mp4: box %q of %d bytes at %d", b.typ, s, off)
		}
		b.size, b.data = int64(s), off+16
	case 0:
		b.size = end - off
	}
	if b.size < b.data-off || b.size > end-off {
		if depth == 0 && b.typ == "mdat" {
			b.size = end - off // truncated media data at the end: nothing to clean there
			return b, nil
		}
		return box{}, malformed("mp4: box %q of %d bytes at %d", b.typ, b.size, off)
	}
	return b, nil
}

// walk visits the boxes in [off, end).
func (w *boxWalker) walk(ctx context.Context, off, end int64, depth int) error {
	if depth > maxBoxDepth {
		return malformed("mp4: boxes nested deeper than %d", maxBoxDepth)
	}
	for end-off >= 8 {
		if err := ctx.Err(); err != nil {
			return err
		}
		if w.boxes++; w.boxes > maxBoxes {
			return malformed("mp4: more than %d boxes", maxBoxes)
		}
		b, err := w.next(off, end, depth)
		if err != nil {
			return err
		}
		if err := w.visit(ctx, b, depth); err != nil {
			return err
		}
		off = b.end()
	}
	return nil // fewer than 8 bytes left: QuickTime's zero terminator or padding
}

// visit handles one box.
func (w *boxWalker) visit(ctx context.Context, b box, depth int) error {
	switch {
	case containerBoxes[b.typ]:
		return w.walk(ctx, b.data, b.end(), depth+1)
	case b.typ == "meta":
		return w.meta(ctx, b, depth)
	case b.typ == "\xa9xyz" || b.typ == "loci":
		return w.neutralise(b)
	case b.typ == "XMP_" || b.typ == "uuid" && w.isXMPUUID(b):
		return w.e.edit(b.data, b.end()-b.data, scrubXMP)
	}
	return nil
}

func (w *boxWalker) isXMPUUID(b box) bool {
	u, err := w.e.read(b.data, 16)
	return err == nil && bytes.Equal(u, xmpUUID)
}

// neutralise turns b into a free box of the same size with a zeroed payload.
func (w *boxWalker) neutralise(b box) error {
	return w.e.edit(b.off, b.size, func(p []byte) error {
		copy(p[4:8], "free")
		clear(p[b.data-b.off:])
		return nil
	})
}

// meta handles a meta box: QuickTime's plain box or ISO's full box (with
// four bytes of version and flags). Its keys box names the ilst items;
// items for location keys and ©xyz items are neutralised.
func (w *boxWalker) meta(ctx context.Context, b box, depth int) error {
	start := b.data
	if p, err := w.e.read(b.data, 8); err == nil && string(p[4:8]) != "hdlr" {
		start += 4 // ISO full box
	}
	var children []box
	for off := start; b.end()-off >= 8; {
		if w.boxes++; w.boxes > maxBoxes {
			return malformed("mp4: more than %d boxes", maxBoxes)
		}
		c, err := w.next(off, b.end(), depth+1)
		if err != nil {
			return err
		}
		children = append(children, c)
		off = c.end()
	}
	location := map[uint32]bool{}
	for _, c := range children {
		if c.typ != "keys" {
			continue
		}
		k, err := w.e.read(c.data, c.end()-c.data)
		if err != nil {
			return err
		}
		if err := locationKeys(k, location); err != nil {
			return err
		}
	}
	for _, c := range children {
		switch c.typ {
		case "ilst":
			if err := w.ilst(ctx, c, depth+1, location); err != nil {
				return err
			}
		case "keys", "hdlr":
		case "xml ":
			if err := w.e.edit(c.data, c.end()-c.data, scrubXMP); err != nil {
				return err
			}
		default:
			if err := w.visit(ctx, c, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// locationKeys adds the 1-based indexes of location keys in a keys box
// payload (version and flags, count, then size, namespace, name entries).
func locationKeys(k []byte, location map[uint32]bool) error {
	if len(k) < 8 {
		return malformed("mp4: short keys box")
	}
	count := binary.BigEndian.Uint32(k[4:])
	p := k[8:]
	for i := uint32(1); i <= count; i++ {
		if len(p) < 8 {
			return malformed("mp4: keys box ends at key %d of %d", i, count)
		}
		n := binary.BigEndian.Uint32(p)
		if n < 8 || uint64(n) > uint64(len(p)) {
			return malformed("mp4: key %d of %d bytes", i, n)
		}
		if isLocationKey(string(p[8:n])) {
			location[i] = true
		}
		p = p[n:]
	}
	return nil
}

// isLocationKey reports metadata key names that hold location data: Apple's
// location keys, and the names ffmpeg uses when it copies a location into
// mdta keys ("location") or tags.
func isLocationKey(name string) bool {
	n := strings.ToLower(name)
	if strings.HasPrefix(n, locationKeyPrefix) || n == "location" || strings.HasPrefix(n, "location-") {
		return true
	}
	for _, w := range []string{"iso6709", "gps", "latitude", "longitude", "coordinates"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// ilst neutralises the items of an item list that hold location data.
func (w *boxWalker) ilst(ctx context.Context, b box, depth int, location map[uint32]bool) error {
	for off := b.data; b.end()-off >= 8; {
		if err := ctx.Err(); err != nil {
			return err
		}
		if w.boxes++; w.boxes > maxBoxes {
			return malformed("mp4: more than %d boxes", maxBoxes)
		}
		c, err := w.next(off, b.end(), depth+1)
		if err != nil {
			return err
		}
		if c.typ == "\xa9xyz" || location[binary.BigEndian.Uint32([]byte(c.typ))] {
			if err := w.neutralise(c); err != nil {
				return err
			}
		}
		off = c.end()
	}
	return nil
}
