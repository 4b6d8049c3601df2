package gpsstrip

import (
	"bytes"
	"context"
	"encoding/binary"
)

var (
	xmpExtHeader = []byte("http://ns.adobe.com/xmp/extension/\x00")
	mpfHeader    = []byte("MPF\x00")
)

// maxMPImages bounds the images of a multi-picture (MPF) JPEG that are
// visited, and maxSegments the segments read before a scan.
const (
	maxMPImages = 32
	maxSegments = 4096
)

// planJPEG cleans the JPEG's metadata segments and, through its MPF index,
// those of the secondary images (gain maps, depth maps, previews) that
// phones append after the primary image.
func planJPEG(ctx context.Context, e *editor) error {
	ext := extXMPs{}
	images, err := planJPEGSegments(ctx, e, 0, &ext, true)
	if err != nil {
		return err
	}
	for _, off := range images {
		if b, err := e.read(off, 2); err != nil || b[0] != 0xFF || b[1] != 0xD8 {
			continue // not an image there; readers will not find one either
		}
		if _, err := planJPEGSegments(ctx, e, off, &ext, false); err != nil {
			return err
		}
	}
	for _, x := range ext.packets {
		if err := x.plan(e); err != nil {
			return err
		}
	}
	return nil
}

// planJPEGSegments walks the marker segments of the JPEG at start up to its
// first scan, cleans every APPn segment, collects extended XMP chunks into
// ext and, when mpf is set, returns the file offsets of MPF secondary images.
func planJPEGSegments(ctx context.Context, e *editor, start int64, ext *extXMPs, mpf bool) ([]int64, error) {
	b, err := e.read(start, 2)
	if err != nil || b[0] != 0xFF || b[1] != 0xD8 {
		return nil, malformed("jpeg: no SOI at %d", start)
	}
	var images []int64
	off := start + 2
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if n > maxSegments {
			return nil, malformed("jpeg: more than %d segments", maxSegments)
		}
		m, err := e.read(off, 2)
		if err != nil {
			return nil, malformed("jpeg: truncated before scan")
		}
		if m[0] != 0xFF {
			return nil, malformed("jpeg: no marker at %d", off)
		}
		marker := m[1]
		switch {
		case marker == 0xFF: // fill byte
			off++
			continue
		case marker == 0xDA, marker == 0xD9: // SOS: image data follows; EOI
			return images, nil
		case marker == 0x01, marker >= 0xD0 && marker <= 0xD8:
			off += 2 // standalone markers
			continue
		}
		lb, err := e.read(off+2, 2)
		if err != nil {
			return nil, malformed("jpeg: truncated segment at %d", off)
		}
		length := int64(binary.BigEndian.Uint16(lb))
		if length < 2 {
			return nil, malformed("jpeg: segment length %d at %d", length, off)
		}
		data := off + 4
		off += 2 + length
		if marker < 0xE0 || marker > 0xEF {
			continue
		}
		seg, err := e.read(data, length-2)
		if err != nil {
			return nil, err
		}
		switch {
		case marker == 0xE1 && bytes.HasPrefix(seg, xmpExtHeader):
			if err := ext.collect(data, seg); err != nil {
				return nil, err
			}
			continue
		case marker == 0xE2 && mpf && bytes.HasPrefix(seg, mpfHeader):
			images = append(images, mpfImages(seg[len(mpfHeader):], data+int64(len(mpfHeader)))...)
			continue
		}
		old := append([]byte(nil), seg...)
		if marker == 0xE1 && bytes.HasPrefix(seg, exifHeader) {
			err = stripEXIFBlock(seg)
		} else {
			err = scrubXMP(seg) // main XMP, Photoshop IRB XMP, anything XMP-bearing
		}
		if err != nil {
			return nil, err
		}
		e.update(data, old, seg)
	}
}

// extXMPs gathers the extended XMP packets of a JPEG, by GUID.
type extXMPs struct {
	packets map[string]*extXMP
	bytes   int // chunk data held, capped at maxBlock
	alloc   int // reassembly buffers to allocate, capped at maxBlock
}

// extXMP is an extended XMP packet split over APP1 segments; it is
// reassembled so that a property spanning two segments is still found.
type extXMP struct {
	size   int // end of the furthest chunk; the rest of the packet is absent
	chunks []extChunk
}

type extChunk struct {
	at   int64  // file offset of the chunk's data
	off  uint32 // offset of the chunk in the packet
	data []byte
}

// collect records one extended XMP segment: namespace, 32-byte GUID,
// full length and offset (big-endian), then the data.
func (x *extXMPs) collect(at int64, seg []byte) error {
	h := len(xmpExtHeader)
	if len(seg) < h+40 {
		return malformed("jpeg: short extended xmp segment")
	}
	guid := string(seg[h : h+32])
	total := binary.BigEndian.Uint32(seg[h+32:])
	off := binary.BigEndian.Uint32(seg[h+36:])
	data := seg[h+40:]
	end := uint64(off) + uint64(len(data))
	if end > uint64(total) {
		return malformed("jpeg: extended xmp chunk %d+%d of %d", off, len(data), total)
	}
	if x.packets == nil {
		x.packets = map[string]*extXMP{}
	}
	p := x.packets[guid]
	if p == nil {
		p = &extXMP{}
		x.packets[guid] = p
	}
	if end > uint64(p.size) {
		x.alloc += int(end) - p.size
		p.size = int(end)
	}
	if x.bytes += len(data); x.bytes > maxBlock || x.alloc > maxBlock {
		return malformed("jpeg: extended xmp over %d bytes", maxBlock)
	}
	p.chunks = append(p.chunks, extChunk{at: at + int64(h+40), off: off, data: data})
	return nil
}

// plan scrubs the reassembled packet and records the changes per chunk.
func (p *extXMP) plan(e *editor) error {
	buf := make([]byte, p.size)
	for _, c := range p.chunks {
		copy(buf[c.off:], c.data)
	}
	if err := scrubXMP(buf); err != nil {
		return err
	}
	for _, c := range p.chunks {
		e.update(c.at, c.data, buf[c.off:int(c.off)+len(c.data)])
	}
	return nil
}

// mpfImages reads the MP Entry tag (0xB002) of an MPF index and returns the
// file offsets of the images after the first; offsets in the index count
// from the MPF TIFF header at file offset base. A broken index yields none:
// readers cannot find those images either.
func mpfImages(t []byte, base int64) []int64 {
	if len(t) < 8 {
		return nil
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return nil
	}
	ifd := bo.Uint32(t[4:])
	n, ok := ifdEntries(t, bo, ifd)
	if !ok {
		return nil
	}
	var out []int64
	for i := 0; i < n; i++ {
		en := t[int(ifd)+2+12*i:]
		if bo.Uint16(en) != 0xB002 {
			continue
		}
		count := uint64(bo.Uint32(en[4:]))
		v := uint64(bo.Uint32(en[8:]))
		if count > 16*maxMPImages || count <= 4 || v+count > uint64(len(t)) {
			return nil
		}
		for k := uint64(16); k+16 <= count; k += 16 { // entry 0 is the primary image
			if off := bo.Uint32(t[v+k+8:]); off != 0 {
				out = append(out, base+int64(off))
			}
		}
	}
	return out
}
