package gpsstrip

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"io"
)

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// neutralType replaces the type of a PNG text chunk whose location data
// cannot be removed in place (compressed or hex-encoded). Lower-case first
// and second letters make it ancillary and private, so every decoder
// skips it; its data is zeroed.
const neutralType = "skIp"

// maxChunks bounds the PNG chunks visited.
const maxChunks = 1 << 20

// planPNG cleans eXIf and the text chunks (tEXt, zTXt, iTXt), seeking over
// everything else, image data included; every changed chunk gets a new CRC.
func planPNG(ctx context.Context, e *editor) error {
	sig, err := e.read(0, 8)
	if err != nil || !bytes.Equal(sig, pngSignature) {
		return malformed("png: no signature")
	}
	off := int64(8)
	inflated := int64(0) // bytes inflated so far, all chunks together
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n > maxChunks {
			return malformed("png: more than %d chunks", maxChunks)
		}
		if off == e.size {
			return nil // no IEND: decoders will complain, but nothing is left unread
		}
		h, err := e.read(off, 8)
		if err != nil {
			return malformed("png: truncated chunk header at %d", off)
		}
		length := int64(binary.BigEndian.Uint32(h))
		typ := string(h[4:8])
		if length > 1<<31-1 || off+12+length > e.size {
			return malformed("png: chunk %q of %d bytes at %d", typ, length, off)
		}
		switch typ {
		case "IEND":
			return nil
		case "eXIf", "tEXt", "zTXt", "iTXt":
			if err := e.edit(off+4, 4+length+4, func(c []byte) error { return cleanPNGChunk(c, &inflated) }); err != nil {
				return err
			}
		}
		off += 12 + length
	}
}

// cleanPNGChunk cleans one chunk given as type, data and CRC, and renews
// the CRC when the data changed. inflated counts the bytes that the file's
// compressed chunks inflated to so far.
func cleanPNGChunk(c []byte, inflated *int64) error {
	typ, data := string(c[:4]), c[4:len(c)-4]
	old := append([]byte(nil), data...)
	switch typ {
	case "eXIf":
		if err := stripEXIFBlock(data); err != nil {
			return err
		}
	default:
		neutral, err := cleanPNGText(typ, data, inflated)
		if err != nil {
			return err
		}
		if neutral {
			copy(c, neutralType)
			clear(data)
		}
	}
	if !bytes.Equal(old, data) {
		binary.BigEndian.PutUint32(c[len(c)-4:], crc32.ChecksumIEEE(c[:len(c)-4]))
	}
	return nil
}

// cleanPNGText scrubs XMP in the uncompressed text of a tEXt or iTXt chunk
// in place. For text that is compressed, or a "Raw profile type" text
// holding hex-encoded EXIF or XMP (as written by ImageMagick), it reports
// whether the chunk carries location data and must be neutralised whole.
func cleanPNGText(typ string, data []byte, inflated *int64) (neutral bool, err error) {
	k := bytes.IndexByte(data, 0)
	if k < 0 {
		return false, scrubXMP(data) // no keyword: not valid, but scrub what is there
	}
	keyword, text := string(data[:k]), data[k+1:]
	compressed := false
	switch typ {
	case "zTXt":
		if len(text) < 1 {
			return false, malformed("png: short zTXt")
		}
		text, compressed = text[1:], true
	case "iTXt":
		// flag, method, language\0, translated keyword\0, text
		if len(text) < 2 {
			return false, malformed("png: short iTXt")
		}
		compressed = text[0] != 0
		rest := text[2:]
		for range 2 {
			z := bytes.IndexByte(rest, 0)
			if z < 0 {
				return false, malformed("png: short iTXt")
			}
			rest = rest[z+1:]
		}
		text = rest
	}
	if compressed {
		plain, err := inflate(text, inflated)
		if err != nil {
			return false, err
		}
		return textHasLocation(keyword, plain)
	}
	if bytes.HasPrefix([]byte(keyword), []byte("Raw profile type ")) {
		return textHasLocation(keyword, text)
	}
	return false, scrubXMP(text)
}

// textHasLocation reports whether decoded text would lose anything to
// cleaning, decoding ImageMagick's hex raw profiles first.
func textHasLocation(keyword string, text []byte) (bool, error) {
	t := append([]byte(nil), text...)
	if bytes.HasPrefix([]byte(keyword), []byte("Raw profile type ")) {
		t = decodeRawProfile(t)
	}
	old := append([]byte(nil), t...)
	if bytes.HasPrefix(t, exifHeader) || bytes.HasPrefix(t, []byte("II*\x00")) || bytes.HasPrefix(t, []byte("MM\x00*")) {
		if err := stripEXIFBlock(t); err != nil {
			return true, nil // unreadable EXIF: drop the chunk rather than guess
		}
	} else if err := scrubXMP(t); err != nil {
		return true, nil
	}
	return !bytes.Equal(old, t), nil
}

// decodeRawProfile decodes "\n<name>\n <length>\n<hex lines>"; text that
// does not parse is returned as it is.
func decodeRawProfile(t []byte) []byte {
	lines := bytes.SplitN(bytes.TrimLeft(t, "\n"), []byte("\n"), 3)
	if len(lines) < 3 {
		return t
	}
	var hx []byte
	for _, c := range lines[2] {
		if ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F') {
			hx = append(hx, c)
		}
	}
	out := make([]byte, len(hx)/2)
	if _, err := hex.Decode(out, hx[:len(out)*2]); err != nil {
		return t
	}
	return out
}

// inflate decompresses zlib data, adding what it inflates to *inflated,
// which may not pass maxBlock: one chunk or many, a file's compressed text
// costs at most maxBlock bytes of inflating (a 1.6 MB file of zTXt chunks
// could otherwise inflate each to maxBlock, gigabytes in all).
func inflate(z []byte, inflated *int64) ([]byte, error) {
	r, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, malformed("png: compressed text: %v", err)
	}
	left := maxBlock - *inflated
	out, err := io.ReadAll(io.LimitReader(r, left+1))
	*inflated += int64(len(out))
	if err != nil {
		return nil, malformed("png: compressed text: %v", err)
	}
	if int64(len(out)) > left {
		return nil, malformed("png: compressed text over %d bytes in all", maxBlock)
	}
	return out, nil
}
