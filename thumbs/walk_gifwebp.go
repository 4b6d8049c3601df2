package thumbs

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
)

// walkGIF reads a GIF's blocks from the header to the trailer: every
// image (descriptor, colour table, data sub-blocks) and extension,
// requiring at least one image and the final trailer, and running the
// markup check on comment and application extensions.
func walkGIF(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	head := make([]byte, 13)
	if _, err := io.ReadFull(br, head); err != nil || (string(head[:6]) != "GIF87a" && string(head[:6]) != "GIF89a") {
		return malformed("gif: no header")
	}
	if err := skipColorTable(br, head[10]); err != nil {
		return err
	}
	images := 0
	var sub bytes.Buffer
	for {
		b, err := br.ReadByte()
		if err != nil {
			return malformed("gif: truncated before the trailer")
		}
		switch b {
		case 0x3b:
			if images == 0 {
				return malformed("gif: no image")
			}
			return nil
		case 0x2c: // image descriptor
			d := make([]byte, 9)
			if _, err := io.ReadFull(br, d); err != nil {
				return malformed("gif: truncated image descriptor")
			}
			if err := skipColorTable(br, d[8]); err != nil {
				return err
			}
			if _, err := br.ReadByte(); err != nil { // LZW minimum code size
				return malformed("gif: truncated image")
			}
			if err := subBlocks(br, nil); err != nil {
				return err
			}
			images++
		case 0x21: // extension
			label, err := br.ReadByte()
			if err != nil {
				return malformed("gif: truncated extension")
			}
			sub.Reset()
			if err := subBlocks(br, &sub); err != nil {
				return err
			}
			if label == 0xfe || label == 0xff { // comment, application (XMP)
				if err := checkMarkup("gif extension", sub.Bytes()); err != nil {
					return err
				}
			}
		default:
			return malformed("gif: block %#x", b)
		}
	}
}

// skipColorTable skips the colour table that flags (a screen or image
// descriptor's packed byte) announces.
func skipColorTable(br *bufio.Reader, flags byte) error {
	if flags&0x80 == 0 {
		return nil
	}
	n := 3 << (flags&7 + 1)
	if _, err := br.Discard(n); err != nil {
		return malformed("gif: truncated colour table")
	}
	return nil
}

// subBlocks reads data sub-blocks up to the terminator, appending their
// payloads to keep (nil: skip them). A kept block stops growing at
// maxMetadata and is refused beyond it.
func subBlocks(br *bufio.Reader, keep *bytes.Buffer) error {
	for {
		n, err := br.ReadByte()
		if err != nil {
			return malformed("gif: truncated sub-block")
		}
		if n == 0 {
			return nil
		}
		if keep == nil {
			if _, err := br.Discard(int(n)); err != nil {
				return malformed("gif: truncated sub-block")
			}
			continue
		}
		if keep.Len()+int(n) > maxMetadata {
			return malformed("gif: extension over %d bytes", maxMetadata)
		}
		if _, err := io.CopyN(keep, br, int64(n)); err != nil {
			return malformed("gif: truncated sub-block")
		}
	}
}

// webpInfo is what walkWebP learns.
type webpInfo struct {
	lossless bool // VP8L
	alpha    bool // VP8L, or an ALPH chunk
}

// walkWebP reads a WebP's RIFF container: the RIFF size must match the
// file, every chunk must fit, the first must be VP8, VP8L or VP8X with a
// valid header, and EXIF, XMP and ICCP chunks get the markup check.
func walkWebP(r io.Reader, size int64) (webpInfo, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var info webpInfo
	head := make([]byte, 12)
	if _, err := io.ReadFull(br, head); err != nil || string(head[:4]) != "RIFF" || string(head[8:]) != "WEBP" {
		return info, malformed("webp: no RIFF WEBP header")
	}
	if riff := int64(binary.LittleEndian.Uint32(head[4:])); riff+8 != size && riff+8+1 != size {
		return info, malformed("webp: RIFF says %d bytes, file has %d", riff+8, size)
	}
	off := int64(12)
	for n := 0; off < size; n++ {
		ch := make([]byte, 8)
		if _, err := io.ReadFull(br, ch); err != nil {
			if off+1 == size { // a stray pad byte at the end
				return info, nil
			}
			return info, malformed("webp: truncated chunk header")
		}
		typ, length := string(ch[:4]), int64(binary.LittleEndian.Uint32(ch[4:]))
		padded := length + length&1
		if off+8+padded > size+1 || off+8+length > size {
			return info, malformed("webp: %q chunk of %d bytes at %d", typ, length, off)
		}
		if n == 0 && typ != "VP8 " && typ != "VP8L" && typ != "VP8X" {
			return info, malformed("webp: first chunk %q", typ)
		}
		var data []byte
		switch typ {
		case "VP8 ", "VP8L", "VP8X", "EXIF", "XMP ", "ICCP":
			if length > maxMetadata && typ != "VP8 " && typ != "VP8L" {
				return info, malformed("webp: %q chunk of %d bytes", typ, length)
			}
			keep := min(length, 16) // enough for the bitstream headers
			if typ == "EXIF" || typ == "XMP " || typ == "ICCP" || typ == "VP8X" {
				keep = length
			}
			data = make([]byte, keep)
			if _, err := io.ReadFull(br, data); err != nil {
				return info, malformed("webp: truncated %q chunk", typ)
			}
			if _, err := br.Discard(int(padded - keep)); err != nil && off+8+padded <= size {
				return info, malformed("webp: truncated %q chunk", typ)
			}
		default:
			if _, err := br.Discard(int(padded)); err != nil && off+8+padded <= size {
				return info, malformed("webp: truncated %q chunk", typ)
			}
		}
		if err := info.chunk(typ, data); err != nil {
			return info, err
		}
		off += 8 + padded
	}
	return info, nil
}

// chunk takes in one WebP chunk (data holds its start, or all of it for
// metadata).
func (w *webpInfo) chunk(typ string, data []byte) error {
	switch typ {
	case "VP8 ":
		if len(data) < 10 || !bytes.Equal(data[3:6], []byte{0x9d, 0x01, 0x2a}) {
			return malformed("webp: VP8 frame without its start code")
		}
	case "VP8L":
		if len(data) < 5 || data[0] != 0x2f {
			return malformed("webp: VP8L without its signature")
		}
		w.lossless, w.alpha = true, true
	case "VP8X":
		if len(data) < 10 {
			return malformed("webp: short VP8X")
		}
	case "ALPH":
		w.alpha = true
	case "EXIF", "XMP ", "ICCP":
		return checkMarkup("webp "+typ, data)
	}
	return nil
}

// walkISOBMFF reads an ISO base media file's top-level boxes (AVIF): the
// first must be ftyp naming one of brands, the boxes must fill the file
// exactly, and a meta box (where an AVIF keeps its image items and their
// properties, the ICC profile among them) must be among them; the meta
// box gets the markup check. (EXIF and XMP items whose data sits in mdat
// are not looked at: thumbnails never copy them.)
func walkISOBMFF(r io.Reader, size int64, brands ...string) error {
	br := bufio.NewReaderSize(r, 64<<10)
	off := int64(0)
	meta := false
	for n := 0; off < size; n++ {
		h := make([]byte, 8)
		if _, err := io.ReadFull(br, h); err != nil {
			return malformed("isobmff: truncated box header at %d", off)
		}
		boxSize, typ, head := int64(binary.BigEndian.Uint32(h)), string(h[4:]), int64(8)
		switch boxSize {
		case 0:
			boxSize = size - off
		case 1:
			if _, err := io.ReadFull(br, h); err != nil {
				return malformed("isobmff: truncated box header at %d", off)
			}
			boxSize, head = int64(binary.BigEndian.Uint64(h)), 16
		}
		if boxSize < head || boxSize > size-off {
			return malformed("isobmff: %q box of %d bytes at %d in %d", typ, boxSize, off, size)
		}
		body := boxSize - head
		if n == 0 {
			if typ != "ftyp" || body < 8 || body > 4096 {
				return malformed("isobmff: no ftyp box first")
			}
			b := make([]byte, body)
			if _, err := io.ReadFull(br, b); err != nil {
				return malformed("isobmff: truncated ftyp")
			}
			if !hasBrand(b, brands) {
				return malformed("isobmff: ftyp names none of %v", brands)
			}
		} else if typ == "meta" {
			// Item properties live here, the ICC profile (colr) among them.
			if body > maxMetadata {
				return malformed("isobmff: meta box of %d bytes", body)
			}
			b := make([]byte, body)
			if _, err := io.ReadFull(br, b); err != nil {
				return malformed("isobmff: truncated meta box")
			}
			if err := checkMarkup("avif meta box", b); err != nil {
				return err
			}
		} else if _, err := br.Discard(int(body)); err != nil {
			return malformed("isobmff: truncated %q box", typ)
		}
		meta = meta || typ == "meta"
		off += boxSize
	}
	if !meta {
		return malformed("isobmff: no meta box")
	}
	return nil
}

// hasBrand reports whether an ftyp body (major brand, minor version,
// compatible brands) names one of brands.
func hasBrand(ftyp []byte, brands []string) bool {
	for i := 0; i+4 <= len(ftyp); i += 4 {
		if i == 4 {
			continue // minor version
		}
		for _, b := range brands {
			if string(ftyp[i:i+4]) == b {
				return true
			}
		}
	}
	return false
}
