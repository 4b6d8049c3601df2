package thumbs

import (
	"bytes"
	"encoding/binary"
	"image"
	"io"
	"spano/internal/tiff"

	"github.com/disintegration/imaging"
)

// Only JPEG orientation is applied. Browsers honour the EXIF orientation
// of JPEG images but (as of 2025) not of WebP, and of PNG eXIf only in
// Safari; thumbnails must look like the original does on the site, so PNG
// and WebP are left as stored.
func noOrientation(io.Reader) int { return 1 }

// maxHeaderScan bounds how far JPEGOrientation reads looking for the EXIF
// segment: APP segments are at most 64 KiB each and EXIF comes first in
// practice, but some files carry JFIF, ICC and XMP segments before it.
const maxHeaderScan = 1 << 20

// JPEGOrientation returns the EXIF orientation (1–8) of the JPEG read from
// r, or 1 when there is none or it cannot be read.
func JPEGOrientation(r io.Reader) int {
	o := 1
	jpegSegments(r, 0xe1, func(seg []byte) bool {
		if tiff, ok := bytes.CutPrefix(seg, []byte("Exif\x00\x00")); ok {
			o = tiffOrientation(tiff)
			return false
		}
		return true // an XMP APP1: keep looking
	})
	return o
}

// jpegSegments calls fn with the payload of each marker segment of type
// want before the first scan, until fn returns false. It reads at most
// maxHeaderScan bytes and stops quietly at anything malformed.
func jpegSegments(r io.Reader, want byte, fn func(seg []byte) bool) {
	lr := &io.LimitedReader{R: r, N: maxHeaderScan}
	var soi [2]byte
	if _, err := io.ReadFull(lr, soi[:]); err != nil || soi != [2]byte{0xff, 0xd8} {
		return
	}
	for {
		var m [2]byte
		if _, err := io.ReadFull(lr, m[:]); err != nil || m[0] != 0xff {
			return
		}
		marker := m[1]
		for marker == 0xff { // fill bytes
			if _, err := io.ReadFull(lr, m[1:]); err != nil {
				return
			}
			marker = m[1]
		}
		switch {
		case marker == 0xda || marker == 0xd9: // SOS, EOI: the headers end
			return
		case marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7): // no length
			continue
		}
		var l [2]byte
		if _, err := io.ReadFull(lr, l[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(l[:])) - 2
		if n < 0 {
			return
		}
		if marker != want {
			if _, err := io.CopyN(io.Discard, lr, int64(n)); err != nil {
				return
			}
			continue
		}
		seg := make([]byte, n)
		if _, err := io.ReadFull(lr, seg); err != nil || !fn(seg) {
			return
		}
	}
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF structure (the EXIF
// payload), returning 1 for anything missing, malformed or out of range.
func tiffOrientation(b []byte) int {
	bo, ifd0, ok := tiff.Header(b)
	if !ok {
		return 1
	}
	ifd := int64(ifd0)
	if ifd < 8 || ifd+2 > int64(len(b)) {
		return 1
	}
	count := int64(bo.Uint16(b[ifd:]))
	for i := int64(0); i < count; i++ {
		e := ifd + 2 + 12*i
		if e+12 > int64(len(b)) {
			return 1
		}
		if bo.Uint16(b[e:]) != 0x0112 {
			continue
		}
		// Type SHORT (3), count 1: the value sits in the entry itself.
		if bo.Uint16(b[e+2:]) != 3 || bo.Uint32(b[e+4:]) != 1 {
			return 1
		}
		if o := int(bo.Uint16(b[e+8:])); o >= 1 && o <= 8 {
			return o
		}
		return 1
	}
	return 1
}

// Transposes reports whether EXIF orientation o (as JPEGOrientation
// returns it) swaps width and height: the image is turned a quarter.
func Transposes(o int) bool { return o >= 5 && o <= 8 }

// orient turns an image as stored into the image as displayed, following
// the EXIF 2.3 definitions (the same table as imaging's AutoOrientation).
// It runs on thumbnails, never on the full-size image: turning a 320 px
// thumbnail costs nothing, turning 12 MP costs a copy of 48 MB.
func orient(img image.Image, o int) image.Image {
	switch o {
	case 2:
		return imaging.FlipH(img)
	case 3:
		return imaging.Rotate180(img)
	case 4:
		return imaging.FlipV(img)
	case 5:
		return imaging.Transpose(img)
	case 6:
		return imaging.Rotate270(img)
	case 7:
		return imaging.Transverse(img)
	case 8:
		return imaging.Rotate90(img)
	}
	return img
}
