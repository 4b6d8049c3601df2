package gpsstrip

import (
	"context"
)

// Matroska element IDs (with their length marker bits, as written).
const (
	ebmlHeaderID = 0x1A45DFA3
	segmentID    = 0x18538067
	clusterID    = 0x1F43B675
	tagsID       = 0x1254C367
	tagID        = 0x7373
	simpleTagID  = 0x67C8
	tagNameID    = 0x45A3
	tagStringID  = 0x4487
	tagBinaryID  = 0x4485
)

// segmentChildren are the level-1 elements; one of them ends a cluster of
// unknown size.
var segmentChildren = map[uint32]bool{
	0x114D9B74: true, 0x1549A966: true, 0x1654AE6B: true, clusterID: true,
	0x1C53BB6B: true, 0x1941A469: true, 0x1043A770: true, tagsID: true, 0xEC: true,
}

// planWebM clears location tags in a WebM (Matroska) file. Matroska has
// no GPS element, but ffmpeg copies a source video's location into a
// SimpleTag named LOCATION (an ISO 6709 string) when converting; the
// values of location-named tags are zeroed, which Matroska reads as
// padding, so the string becomes empty. Clusters are skipped by seeking.
func planWebM(ctx context.Context, e *editor) error {
	h, err := e.ebml(0, e.size)
	if err != nil || h.id != ebmlHeaderID {
		return malformed("webm: no EBML header")
	}
	for off := h.end; off < e.size; {
		if err := ctx.Err(); err != nil {
			return err
		}
		el, err := e.ebml(off, e.size)
		if err != nil {
			return err
		}
		if el.id == segmentID {
			return e.webmSegment(ctx, el)
		}
		off = el.end
	}
	return nil
}

// ebmlElement is one element header: its ID, where its data starts and
// where it ends (unknown sizes end at the parent's end).
type ebmlElement struct {
	id           uint32
	data, end    int64
	unknownSized bool
}

// ebml reads the element header at off inside a parent ending at limit.
func (e *editor) ebml(off, limit int64) (ebmlElement, error) {
	n := min(12, limit-off)
	h, err := e.read(off, n)
	if err != nil {
		return ebmlElement{}, err
	}
	idLen := vintLen(h)
	if idLen == 0 || idLen > 4 || idLen >= len(h) {
		return ebmlElement{}, malformed("webm: element ID at %d", off)
	}
	var id uint32
	for _, c := range h[:idLen] {
		id = id<<8 | uint32(c)
	}
	s := h[idLen:]
	sLen := vintLen(s)
	if sLen == 0 || sLen > len(s) {
		return ebmlElement{}, malformed("webm: element size at %d", off)
	}
	size := uint64(s[0] & (0xFF >> sLen))
	all := size == uint64(0xFF>>sLen)
	for _, c := range s[1:sLen] {
		size = size<<8 | uint64(c)
		all = all && c == 0xFF
	}
	el := ebmlElement{id: id, data: off + int64(idLen+sLen)}
	if all {
		el.unknownSized, el.end = true, limit
		return el, nil
	}
	if size > uint64(limit-el.data) {
		return ebmlElement{}, malformed("webm: element %x of %d bytes at %d", id, size, off)
	}
	el.end = el.data + int64(size)
	return el, nil
}

// vintLen is the length of the EBML variable-size integer starting b.
func vintLen(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	for i := 0; i < 8; i++ {
		if b[0]&(0x80>>i) != 0 {
			return i + 1
		}
	}
	return 0
}

// webmSegment walks the segment's level-1 elements and cleans Tags.
func (e *editor) webmSegment(ctx context.Context, seg ebmlElement) error {
	for off, n := seg.data, 0; seg.end-off >= 2; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n > maxBoxes {
			return malformed("webm: more than %d elements", maxBoxes)
		}
		el, err := e.ebml(off, seg.end)
		if err != nil {
			return err
		}
		switch {
		case el.id == tagsID:
			if err := e.webmTags(el, 0); err != nil {
				return err
			}
		case el.unknownSized && el.id == clusterID:
			// Live-style cluster: its end is the next level-1 element.
			end, err := e.clusterEnd(ctx, el)
			if err != nil {
				return err
			}
			el.end = end
		case el.unknownSized:
			return malformed("webm: element %x of unknown size", el.id)
		}
		off = el.end
	}
	return nil
}

// clusterEnd finds the end of a cluster of unknown size by stepping over
// its children until a level-1 element (or the end) appears.
func (e *editor) clusterEnd(ctx context.Context, c ebmlElement) (int64, error) {
	off := c.data
	for n := 0; c.end-off >= 2; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		el, err := e.ebml(off, c.end)
		if err != nil {
			return 0, err
		}
		if segmentChildren[el.id] {
			return off, nil
		}
		if el.unknownSized {
			return 0, malformed("webm: cluster child %x of unknown size", el.id)
		}
		off = el.end
	}
	return c.end, nil
}

// webmTags descends Tags, Tag and SimpleTag elements (SimpleTags nest) and
// zeroes the values of location-named SimpleTags.
func (e *editor) webmTags(parent ebmlElement, depth int) error {
	if depth > maxBoxDepth {
		return malformed("webm: tags nested deeper than %d", maxBoxDepth)
	}
	var name string
	var values []ebmlElement
	for off := parent.data; parent.end-off >= 2; {
		el, err := e.ebml(off, parent.end)
		if err != nil {
			return err
		}
		if el.unknownSized {
			return malformed("webm: tag element %x of unknown size", el.id)
		}
		switch el.id {
		case tagID, simpleTagID:
			if err := e.webmTags(el, depth+1); err != nil {
				return err
			}
		case tagNameID:
			b, err := e.read(el.data, el.end-el.data)
			if err != nil {
				return err
			}
			name = string(b)
		case tagStringID, tagBinaryID:
			values = append(values, el)
		}
		off = el.end
	}
	if parent.id != simpleTagID || !isLocationKey(trimZeros(name)) {
		return nil
	}
	for _, v := range values {
		if err := e.edit(v.data, v.end-v.data, func(b []byte) error { clear(b); return nil }); err != nil {
			return err
		}
	}
	return nil
}

// trimZeros drops the zero padding Matroska allows after strings.
func trimZeros(s string) string {
	for len(s) > 0 && s[len(s)-1] == 0 {
		s = s[:len(s)-1]
	}
	return s
}
