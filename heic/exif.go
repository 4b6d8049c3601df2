package heic

import (
	"bytes"
	"spano/internal/tiff"
)

const (
	tagOrientation = 0x0112
	typeShort      = 3
	maxIFDs        = 8
)

// maxAPP1 is the most TIFF data one JPEG APP1 segment holds after its
// "Exif\0\0" header (a segment's length field counts itself).
const maxAPP1 = 0xFFFF - 2 - 6

// iccChunk is the most ICC profile data one APP2 segment holds after its
// "ICC_PROFILE\0", sequence number and count (ICC.1 annex B.4).
const iccChunk = 0xFFFF - 2 - 14

// uprightEXIF returns a copy of the TIFF structure t with every
// Orientation tag of IFD0 and IFD1 set to 1 (the pixels are already
// turned), or nil when t cannot be read as TIFF or does not fit a JPEG
// APP1 segment: such EXIF is left out rather than copied unexamined.
func uprightEXIF(t []byte) []byte {
	bo, ifd0, ok := tiff.Header(t)
	if !ok || len(t) > maxAPP1 {
		return nil
	}
	t = bytes.Clone(t)
	off := uint64(ifd0)
	for i := 0; i < 2 && off != 0; i++ {
		if off < 8 || off+2 > uint64(len(t)) {
			return nil
		}
		n := uint64(bo.Uint16(t[off:]))
		end := off + 2 + 12*n
		if end+4 > uint64(len(t)) {
			return nil
		}
		for e := off + 2; e < end; e += 12 {
			if bo.Uint16(t[e:]) == tagOrientation && bo.Uint16(t[e+2:]) == typeShort && bo.Uint32(t[e+4:]) == 1 {
				bo.PutUint16(t[e+8:], 1)
			}
		}
		off = uint64(bo.Uint32(t[end:]))
	}
	return t
}

// segments returns the JPEG APP1 (EXIF) and APP2 (ICC profile) segments
// to put after the SOI of the converted image.
func segments(exif, icc []byte) []byte {
	var out []byte
	if exif != nil {
		out = appendSegment(out, 0xE1, []byte("Exif\x00\x00"), exif)
	}
	if len(icc) == 0 {
		return out
	}
	// The profile in numbered chunks, each in its own APP2; describe
	// refuses profiles longer than 255 chunks.
	count := (len(icc) + iccChunk - 1) / iccChunk
	for i := range count {
		part := icc[i*iccChunk : min(len(icc), (i+1)*iccChunk)]
		hdr := append([]byte("ICC_PROFILE\x00"), byte(i+1), byte(count))
		out = appendSegment(out, 0xE2, hdr, part)
	}
	return out
}

func appendSegment(out []byte, marker byte, hdr, data []byte) []byte {
	n := 2 + len(hdr) + len(data)
	out = append(out, 0xFF, marker, byte(n>>8), byte(n))
	out = append(out, hdr...)
	return append(out, data...)
}
