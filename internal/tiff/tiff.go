// Package tiff reads the header of a TIFF structure, the form EXIF takes
// inside JPEG, HEIF and WebP files: the one check of its byte order and
// magic number for the packages that walk EXIF (gpsstrip, thumbs, heic).
package tiff

import "encoding/binary"

// Header reads the 8-byte TIFF header at the start of b: the byte order
// ("II" little-endian, "MM" big-endian), the magic number 42, and the
// offset of IFD0 from the start of b. ok is false when b holds no such
// header.
func Header(b []byte) (order binary.ByteOrder, ifd0 uint32, ok bool) {
	if len(b) < 8 {
		return nil, 0, false
	}
	switch string(b[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return nil, 0, false
	}
	if order.Uint16(b[2:]) != 42 {
		return nil, 0, false
	}
	return order, order.Uint32(b[4:]), true
}
