package thumbs

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"spano/hashstore"
)

// ErrMarkup reports an image one of whose metadata blocks (ICC profile,
// XMP, EXIF, comment, PNG text, GIF comment) holds HTML or other markup
// that a browser could be talked into running. Upstream maps it to 422,
// like ErrUndecodable.
var ErrMarkup = errors.New("image metadata holds markup")

// maxMetadata bounds a metadata block as inflated (a PNG zTXt, iTXt or
// iCCP): real ones are a few KiB, ICC profiles a few hundred at most;
// more is an inflate bomb, refused.
const maxMetadata = 4 << 20

// checkMarkup runs hashstore.FindMarkup on one metadata block.
func checkMarkup(where string, b []byte) error {
	if tag := hashstore.FindMarkup(b); tag != "" {
		return fmt.Errorf("%s: %w <%s", where, ErrMarkup, tag)
	}
	return nil
}

// pngInfo is what walkPNG learns.
type pngInfo struct {
	width, height int
	bitDepth      int
	colorType     int
	transparency  bool // a tRNS chunk
}

// decodeBytes estimates image/png's allocation: the image in the model
// it picks (grey and paletted 1 byte a sample, everything else RGBA),
// doubled for 16 bits.
func (p pngInfo) decodeBytes() int64 {
	px := int64(p.width) * int64(p.height)
	per := int64(4)
	if (p.colorType == 0 || p.colorType == 3) && !p.transparency {
		per = 1
	}
	if p.bitDepth == 16 {
		per *= 2
	}
	return px * per
}

// hasAlpha says whether the PNG can hold transparency.
func (p pngInfo) hasAlpha() bool {
	return p.colorType == 4 || p.colorType == 6 || p.transparency
}

// walkPNG reads a PNG's chunks from the signature to IEND, checking every
// CRC, requiring IHDR first and some IDAT, and running the markup check on
// its text, eXIf and iCCP chunks (inflated, bounded by maxMetadata).
func walkPNG(r io.Reader) (pngInfo, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var info pngInfo
	sig := make([]byte, 8)
	if _, err := io.ReadFull(br, sig); err != nil || string(sig) != "\x89PNG\r\n\x1a\n" {
		return info, malformed("png: no signature")
	}
	idat := false
	var head [8]byte
	for n := 0; ; n++ {
		if _, err := io.ReadFull(br, head[:]); err != nil {
			return info, malformed("png: truncated before IEND")
		}
		length := binary.BigEndian.Uint32(head[:4])
		typ := string(head[4:8])
		if length > 1<<31-1 {
			return info, malformed("png: chunk %q of %d bytes", typ, length)
		}
		if n == 0 && typ != "IHDR" {
			return info, malformed("png: %q before IHDR", typ)
		}
		crc := crc32.NewIEEE()
		crc.Write(head[4:8])
		var data []byte
		if typ == "IDAT" {
			idat = true
			if _, err := io.CopyN(crc, br, int64(length)); err != nil {
				return info, malformed("png: truncated IDAT")
			}
		} else {
			if length > maxMetadata {
				return info, malformed("png: %q chunk of %d bytes", typ, length)
			}
			data = make([]byte, length)
			if _, err := io.ReadFull(br, data); err != nil {
				return info, malformed("png: truncated %q chunk", typ)
			}
			crc.Write(data)
		}
		var sum [4]byte
		if _, err := io.ReadFull(br, sum[:]); err != nil {
			return info, malformed("png: truncated %q chunk", typ)
		}
		if binary.BigEndian.Uint32(sum[:]) != crc.Sum32() {
			return info, malformed("png: %q chunk fails its CRC", typ)
		}
		if typ == "IEND" {
			if !idat {
				return info, malformed("png: no IDAT")
			}
			return info, nil
		}
		if err := info.chunk(typ, data); err != nil {
			return info, err
		}
	}
}

// chunk takes in one chunk other than IDAT and IEND.
func (p *pngInfo) chunk(typ string, data []byte) error {
	switch typ {
	case "IHDR":
		if len(data) != 13 {
			return malformed("png: IHDR of %d bytes", len(data))
		}
		p.width = int(binary.BigEndian.Uint32(data[0:]))
		p.height = int(binary.BigEndian.Uint32(data[4:]))
		p.bitDepth, p.colorType = int(data[8]), int(data[9])
	case "tRNS":
		p.transparency = true
	case "tEXt", "eXIf":
		return checkMarkup("png "+typ, data)
	case "zTXt", "iCCP":
		// keyword, NUL, compression method, zlib data
		i := bytes.IndexByte(data, 0)
		if i < 0 || i+2 > len(data) {
			return malformed("png: short %s", typ)
		}
		if err := checkMarkup("png "+typ+" keyword", data[:i]); err != nil {
			return err
		}
		return checkInflated("png "+typ, data[i+2:])
	case "iTXt":
		return checkITXt(data)
	}
	return nil
}

// checkITXt checks an iTXt chunk: keyword, flags, language and translated
// keyword as they are, and its text inflated when compressed.
func checkITXt(data []byte) error {
	if err := checkMarkup("png iTXt", data); err != nil {
		return err
	}
	i := bytes.IndexByte(data, 0)
	if i < 0 || i+3 > len(data) {
		return malformed("png: short iTXt")
	}
	compressed := data[i+1] == 1
	rest := data[i+3:]
	for range 2 { // language tag, translated keyword
		j := bytes.IndexByte(rest, 0)
		if j < 0 {
			return malformed("png: short iTXt")
		}
		rest = rest[j+1:]
	}
	if !compressed {
		return nil
	}
	return checkInflated("png iTXt", rest)
}

// checkInflated inflates zlib data, at most maxMetadata bytes of it, and
// checks the result for markup; more than that is refused as a bomb.
func checkInflated(where string, z []byte) error {
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return malformed("%s: %v", where, err)
	}
	text, err := io.ReadAll(io.LimitReader(zr, maxMetadata+1))
	if err != nil {
		return malformed("%s: %v", where, err)
	}
	if len(text) > maxMetadata {
		return malformed("%s inflates to more than %d bytes", where, maxMetadata)
	}
	return checkMarkup(where, text)
}
