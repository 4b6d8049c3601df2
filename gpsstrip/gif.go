package gpsstrip

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
)

// gifXMPApp is the application identifier and authentication code of the
// XMP application extension.
var gifXMPApp = []byte("XMP DataXMP")

// planGIF finds XMP application extensions and scrubs them. GIF stores XMP
// raw, its bytes doubling as sub-block lengths that a "magic trailer"
// steers to the terminator; replacing bytes with spaces keeps that walk
// ending on the terminator, so the file stays readable.
//
// GIF data can only be skipped sub-block by sub-block, so the whole file
// is read, through a small buffer.
func planGIF(ctx context.Context, e *editor) error {
	r := &countReader{r: bufio.NewReaderSize(io.NewSectionReader(e.r, 0, e.size), 64<<10)}
	h := make([]byte, 13)
	if _, err := io.ReadFull(r, h); err != nil || (string(h[:6]) != "GIF87a" && string(h[:6]) != "GIF89a") {
		return malformed("gif: no header")
	}
	if h[10]&0x80 != 0 {
		if err := r.skip(3 << (h[10]&7 + 1)); err != nil {
			return err
		}
	}
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		b, err := r.ReadByte()
		if err != nil {
			return malformed("gif: truncated before trailer")
		}
		switch b {
		case 0x3B: // trailer
			return nil
		case 0x2C: // image descriptor, local colour table, LZW size, data
			d := make([]byte, 9)
			if _, err := io.ReadFull(r, d); err != nil {
				return malformed("gif: truncated image descriptor")
			}
			if d[8]&0x80 != 0 {
				if err := r.skip(3 << (d[8]&7 + 1)); err != nil {
					return err
				}
			}
			if err := r.skip(1); err != nil {
				return err
			}
			if err := r.skipSubBlocks(); err != nil {
				return err
			}
		case 0x21: // extension
			label, err := r.ReadByte()
			if err != nil {
				return malformed("gif: truncated extension")
			}
			if label == 0xFF {
				n, err := r.ReadByte()
				if err != nil {
					return malformed("gif: truncated application extension")
				}
				id := make([]byte, n)
				if _, err := io.ReadFull(r, id); err != nil {
					return malformed("gif: truncated application extension")
				}
				if bytes.Equal(id, gifXMPApp) {
					data := r.n
					if err := r.skipSubBlocks(); err != nil {
						return err
					}
					if err := e.edit(data, r.n-data, scrubGIFXMP); err != nil {
						return err
					}
					continue
				}
			}
			if err := r.skipSubBlocks(); err != nil {
				return err
			}
		default:
			return malformed("gif: block 0x%02x at %d", b, r.n-1)
		}
	}
}

// scrubGIFXMP scrubs the XMP of an application extension, given from the
// first data byte to the block terminator, and checks that its bytes read
// as sub-blocks still end on that terminator; without the magic trailer
// they might not, and the edit would corrupt the file.
func scrubGIFXMP(b []byte) error {
	old := append([]byte(nil), b...)
	if err := scrubXMP(b); err != nil || bytes.Equal(old, b) {
		return err
	}
	p := 0
	for p < len(b) && b[p] != 0 {
		p += 1 + int(b[p])
	}
	if p != len(b)-1 {
		return malformed("gif: xmp extension without its magic trailer")
	}
	return nil
}

// countReader tracks the offset of a buffered reader.
type countReader struct {
	r *bufio.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

func (c *countReader) skip(n int) error {
	d, err := c.r.Discard(n)
	c.n += int64(d)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return malformed("gif: truncated")
		}
		return err
	}
	return nil
}

// skipSubBlocks skips data sub-blocks up to and including the terminator.
func (c *countReader) skipSubBlocks() error {
	for {
		n, err := c.ReadByte()
		if err != nil {
			return malformed("gif: truncated data")
		}
		if n == 0 {
			return nil
		}
		if err := c.skip(int(n)); err != nil {
			return err
		}
	}
}
