package gpsstrip

import (
	"bytes"
	"encoding/binary"
	"spano/internal/tiff"
)

// TIFF tags that lead to sub-IFDs.
const (
	tagExifIFD    = 0x8769
	tagGPSIFD     = 0x8825
	tagInteropIFD = 0xA005
)

// maxIFDs bounds the IFD walk so that crafted pointer chains stay cheap.
const maxIFDs = 64

// exifHeader prefixes EXIF in JPEG APP1 and, non-standardly, in PNG
// eXIf and WebP EXIF chunks.
var exifHeader = []byte("Exif\x00\x00")

// stripEXIFBlock removes GPS from an EXIF block that may begin with the
// "Exif\0\0" header, then from XMP stored inside it (TIFF tag 700).
func stripEXIFBlock(b []byte) error {
	t := b
	if bytes.HasPrefix(t, exifHeader) {
		t = t[len(exifHeader):]
	}
	if err := stripTIFF(t); err != nil {
		return err
	}
	return scrubXMP(b)
}

// stripTIFF empties every GPS IFD of the TIFF structure in b, in place:
// the GPS IFD's entry count, entries, next pointer and the out-of-line
// values its entries point at are zeroed. The GPSInfo pointer is kept and
// leads to a valid IFD with no entries, so readers see no GPS tags while
// every other tag and offset stays where it was.
func stripTIFF(b []byte) error {
	bo, ifd0, ok := tiff.Header(b)
	if !ok {
		return malformed("exif: no TIFF header in %d bytes", len(b))
	}
	type ifd struct {
		off   uint32
		chain bool // follows next-IFD links (IFD0, IFD1)
	}
	queue := []ifd{{ifd0, true}}
	seen := map[uint32]bool{}
	keep := []span{{0, 8}} // header and IFD tables: GPS values may not overlap them
	var gps []uint32
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if d.off == 0 || seen[d.off] {
			continue
		}
		if len(seen) >= maxIFDs {
			return malformed("exif: more than %d IFDs", maxIFDs)
		}
		seen[d.off] = true
		n, ok := ifdEntries(b, bo, d.off)
		if ok {
			keep = append(keep, span{int(d.off), int(d.off) + 2 + 12*n + 4})
		} else {
			if len(seen) == 1 {
				// No readable IFD0: nothing can be told about its GPS pointer.
				return malformed("exif: IFD0 at %d", d.off)
			}
			// Unreadable sub-IFDs are skipped: readers cannot reach them either.
			continue
		}
		for i := 0; i < n; i++ {
			e := b[int(d.off)+2+12*i:]
			switch bo.Uint16(e) {
			case tagExifIFD, tagInteropIFD:
				queue = append(queue, ifd{bo.Uint32(e[8:]), false})
			case tagGPSIFD:
				gps = append(gps, bo.Uint32(e[8:]))
			}
		}
		if next := int(d.off) + 2 + 12*n; d.chain && next+4 <= len(b) {
			queue = append(queue, ifd{bo.Uint32(b[next:]), true})
		}
	}
	for _, off := range gps {
		if err := clearIFD(b, bo, off, keep); err != nil {
			return err
		}
	}
	return nil
}

// ifdEntries returns the entry count of the IFD at off when its entries
// fit inside b.
func ifdEntries(b []byte, bo binary.ByteOrder, off uint32) (int, bool) {
	if off < 8 || uint64(off)+2 > uint64(len(b)) {
		return 0, false
	}
	n := int(bo.Uint16(b[off:]))
	if int(off)+2+12*n > len(b) {
		return 0, false
	}
	return n, true
}

// span is a byte range [from, to).
type span struct{ from, to int }

// clearIFD zeroes the IFD at off together with the values it points at,
// except values overlapping the keep spans: only a crafted file points
// GPS values into its own header or IFD tables, and zeroing those would
// change what the next reader (or the next pass) sees. A GPS IFD that
// cannot be read is an error: a lenient reader might still find
// coordinates in it.
func clearIFD(b []byte, bo binary.ByteOrder, off uint32, keep []span) error {
	if off == 0 {
		return nil
	}
	n, ok := ifdEntries(b, bo, off)
	if !ok {
		return malformed("exif: GPS IFD at %d", off)
	}
	for i := 0; i < n; i++ {
		e := b[int(off)+2+12*i:]
		size := uint64(typeSize(bo.Uint16(e[2:]))) * uint64(bo.Uint32(e[4:]))
		if size <= 4 {
			continue // value inline, zeroed with the entry
		}
		v := uint64(bo.Uint32(e[8:]))
		if v+size <= uint64(len(b)) && !overlaps(keep, int(v), int(v+size)) {
			clear(b[v : v+size])
		}
	}
	end := int(off) + 2 + 12*n + 4
	if end > len(b) {
		end = len(b) // next-IFD pointer missing at the end of the block
	}
	clear(b[off:end])
	return nil
}

func overlaps(spans []span, from, to int) bool {
	for _, s := range spans {
		if from < s.to && s.from < to {
			return true
		}
	}
	return false
}

// typeSize is the byte size of one value of a TIFF field type; unknown
// types count as 1 so their values are still zeroed.
func typeSize(t uint16) int {
	switch t {
	case 3, 8: // SHORT, SSHORT
		return 2
	case 4, 9, 11, 13: // LONG, SLONG, FLOAT, IFD
		return 4
	case 5, 10, 12: // RATIONAL, SRATIONAL, DOUBLE
		return 8
	}
	return 1
}
