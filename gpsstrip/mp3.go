package gpsstrip

import (
	"bytes"
	"context"
	"encoding/binary"
)

// planMP3 cleans the ID3v2 tag at the start of an MP3. ID3 defines no
// location frame, but ffmpeg copies a video's location into a TXXX frame
// named "location" when converting, and XMP (with GPS) can sit in PRIV or
// GEOB frames. Location TXXX values are zeroed (an empty string to
// readers); XMP is scrubbed. Other frames, cover art included, are skipped
// by seeking; MPEG audio frames carry no metadata.
func planMP3(ctx context.Context, e *editor) error {
	h, err := e.read(0, 10)
	if err != nil || string(h[:3]) != "ID3" {
		return nil // no ID3v2 tag: nothing to clean
	}
	version, flags := h[3], h[5]
	size, ok := syncsafe(h[6:10])
	if !ok {
		return malformed("mp3: ID3 size not sync-safe")
	}
	end := 10 + size
	if end > e.size {
		end = e.size // truncated tag: clean what is there
	}
	if flags&0x80 != 0 && version < 4 || version < 2 || version > 4 {
		// Tag-wide unsynchronisation (or an unknown version) hides frame
		// boundaries; XMP text is unaffected by it, so scrub the whole tag.
		return e.edit(10, end-10, scrubXMP)
	}
	off := int64(10)
	if flags&0x40 != 0 && version >= 3 { // extended header
		x, err := e.read(off, 4)
		if err != nil {
			return err
		}
		n := int64(binary.BigEndian.Uint32(x))
		if version == 4 {
			n, _ = syncsafe(x)
		} else {
			n += 4
		}
		off += n
	}
	idLen, hdrLen := int64(4), int64(10)
	if version == 2 {
		idLen, hdrLen = 3, 6
	}
	for n := 0; off+hdrLen <= end; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n > maxChunks {
			return malformed("mp3: more than %d frames", maxChunks)
		}
		fh, err := e.read(off, hdrLen)
		if err != nil {
			return err
		}
		if fh[0] == 0 {
			return nil // padding
		}
		id := string(fh[:idLen])
		var fsize int64
		switch version {
		case 2:
			fsize = int64(fh[3])<<16 | int64(fh[4])<<8 | int64(fh[5])
		case 3:
			fsize = int64(binary.BigEndian.Uint32(fh[4:]))
		case 4:
			fsize, ok = syncsafe(fh[4:8])
			if !ok {
				return malformed("mp3: frame %q size not sync-safe", id)
			}
		}
		data := off + hdrLen
		if data+fsize > end {
			return malformed("mp3: frame %q of %d bytes at %d", id, fsize, off)
		}
		switch id {
		case "TXXX", "TXX":
			if err := e.edit(data, fsize, clearLocationTXXX); err != nil {
				return err
			}
		case "PRIV", "GEOB", "PRV", "GEO":
			if err := e.edit(data, fsize, scrubXMP); err != nil {
				return err
			}
		}
		off = data + fsize
	}
	return nil
}

// clearLocationTXXX zeroes the value of a user text frame (encoding,
// description, value) whose description names location data.
func clearLocationTXXX(f []byte) error {
	if len(f) < 1 {
		return nil
	}
	enc, rest := f[0], f[1:]
	term := []byte{0}
	if enc == 1 || enc == 2 { // UTF-16: a two-byte terminator on a character boundary
		term = []byte{0, 0}
	}
	k := -1
	for i := 0; i+len(term) <= len(rest); i += len(term) {
		if bytes.Equal(rest[i:i+len(term)], term) {
			k = i
			break
		}
	}
	if k < 0 {
		return nil
	}
	// UTF-16 descriptions are ASCII in practice: drop the zero bytes and BOM.
	var desc []byte
	for _, c := range rest[:k] {
		if c != 0 && c < 0x80 {
			desc = append(desc, c)
		}
	}
	if isLocationKey(string(desc)) {
		clear(rest[k+len(term):])
	}
	return nil
}

// syncsafe decodes a 28-bit ID3 sync-safe integer.
func syncsafe(b []byte) (int64, bool) {
	var n int64
	for _, c := range b[:4] {
		if c&0x80 != 0 {
			return 0, false
		}
		n = n<<7 | int64(c)
	}
	return n, true
}
