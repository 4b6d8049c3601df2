package gpsstrip

import (
	"context"
	"encoding/binary"
)

// planWebP cleans the EXIF and XMP chunks of a WebP RIFF container,
// seeking over image and animation chunks. No checksums are involved.
func planWebP(ctx context.Context, e *editor) error {
	h, err := e.read(0, 12)
	if err != nil || string(h[:4]) != "RIFF" || string(h[8:12]) != "WEBP" {
		return malformed("webp: no RIFF WEBP header")
	}
	end := 8 + int64(binary.LittleEndian.Uint32(h[4:]))
	if end > e.size {
		end = e.size // truncated; what is there is still cleaned
	}
	off := int64(12)
	for n := 0; off+8 <= end; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n > maxChunks {
			return malformed("webp: more than %d chunks", maxChunks)
		}
		c, err := e.read(off, 8)
		if err != nil {
			return err
		}
		size := int64(binary.LittleEndian.Uint32(c[4:]))
		data := off + 8
		if data+size > end {
			return malformed("webp: chunk %q of %d bytes at %d", c[:4], size, off)
		}
		switch string(c[:4]) {
		case "EXIF":
			if err := e.edit(data, size, stripEXIFBlock); err != nil {
				return err
			}
		case "XMP ":
			if err := e.edit(data, size, scrubXMP); err != nil {
				return err
			}
		}
		off = data + size + size&1
	}
	return nil
}
