package gpsstrip

import (
	"context"
)

// planMP3 scrubs XMP packets (ID3v2 PRIV "XMP" or GEOB frames) in the
// ID3v2 tag at the start of an MP3. ID3 defines no location frame, and the
// MPEG audio frames carry no metadata, so nothing else is read.
func planMP3(ctx context.Context, e *editor) error {
	h, err := e.read(0, 10)
	if err != nil || string(h[:3]) != "ID3" {
		return nil // no ID3v2 tag: nothing to clean
	}
	var size int64
	for _, c := range h[6:10] {
		if c&0x80 != 0 {
			return malformed("mp3: ID3 size not sync-safe")
		}
		size = size<<7 | int64(c)
	}
	if h[5]&0x10 != 0 { // footer present
		size += 10
	}
	if 10+size > e.size {
		size = e.size - 10 // truncated tag: clean what is there
	}
	return e.edit(10, size, scrubXMP)
}
