package thumbs

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"io"

	"github.com/klauspost/compress/zlib"
)

// PNG thumbnails (screenshots, diagrams, images with alpha) were, after
// the decode, most of an upload's CPU: image/png's encoder deflates with
// compress/flate at level 6. encodePNG writes the same kind of file (8-bit
// RGB, RGBA or grey, the adaptive filter choice of libpng and image/png)
// deflated with klauspost/compress at pngLevel, whose files are within
// about 1% of image/png's in size at about half the CPU
// (BenchmarkEncodePNG).

// pngLevel is klauspost/compress's level 7: the lowest whose files are as
// small as image/png's default on screenshots and photos.
const pngLevel = 7

// idatChunk is the largest IDAT chunk written; a thumbnail's data is
// split across as many as it needs.
const idatChunk = 1 << 20

// encodePNG writes img to w as a PNG. An opaque NRGBA image (what the
// resamplers make) is written as RGB, one with transparency as RGBA, a
// grey image as grey; any other kind goes to image/png.
func encodePNG(w io.Writer, img image.Image) error {
	var pix []byte
	var stride, bpp int
	var colorType byte
	switch m := img.(type) {
	case *image.NRGBA:
		pix, stride, bpp, colorType = m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 4, 6
		if m.Opaque() {
			bpp, colorType = 3, 2
		}
	case *image.Gray:
		pix, stride, bpp, colorType = m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 1, 0
	default:
		return png.Encode(w, img)
	}
	width, height := img.Bounds().Dx(), img.Bounds().Dy()

	var idat bytes.Buffer
	zw, err := zlib.NewWriterLevel(&idat, pngLevel)
	if err != nil {
		return err
	}
	n := width * bpp
	prev, cur := make([]byte, n), make([]byte, n)
	var filtered [5][]byte
	for f := range filtered {
		filtered[f] = make([]byte, n+1)
		filtered[f][0] = byte(f)
	}
	for y := range height {
		row := pix[y*stride:]
		if bpp == 3 {
			for x := range width {
				copy(cur[x*3:x*3+3], row[x*4:x*4+3])
			}
		} else {
			copy(cur, row[:n])
		}
		if _, err := zw.Write(filtered[filterRow(&filtered, cur, prev, bpp)]); err != nil {
			return err
		}
		prev, cur = cur, prev
	}
	if err := zw.Close(); err != nil {
		return err
	}

	pw := pngWriter{w: w}
	pw.write([]byte("\x89PNG\r\n\x1a\n"))
	var ihdr [13]byte
	binary.BigEndian.PutUint32(ihdr[0:4], uint32(width))
	binary.BigEndian.PutUint32(ihdr[4:8], uint32(height))
	ihdr[8], ihdr[9] = 8, colorType // bit depth; compression, filter and interlace methods 0
	pw.chunk("IHDR", ihdr[:])
	data := idat.Bytes()
	for len(data) > 0 {
		k := min(len(data), idatChunk)
		pw.chunk("IDAT", data[:k])
		data = data[k:]
	}
	pw.chunk("IEND", nil)
	return pw.err
}

// pngWriter writes chunks, keeping the first error.
type pngWriter struct {
	w   io.Writer
	err error
}

func (p *pngWriter) write(b []byte) {
	if p.err == nil {
		_, p.err = p.w.Write(b)
	}
}

func (p *pngWriter) chunk(typ string, data []byte) {
	var head [8]byte
	binary.BigEndian.PutUint32(head[:4], uint32(len(data)))
	copy(head[4:], typ)
	crc := crc32.Update(crc32.ChecksumIEEE(head[4:]), crc32.IEEETable, data)
	p.write(head[:])
	p.write(data)
	p.write(binary.BigEndian.AppendUint32(nil, crc))
}

// filterRow fills out with cur filtered by each of the five PNG filters
// (none, sub, up, average, Paeth; out[f][0] is f) against prev, the row
// above (zeros for the first), and returns the filter to use: the one
// whose bytes, read as signed, have the smallest sum of magnitudes, the
// heuristic the PNG specification suggests. A filter stops as soon as its
// sum passes the best so far (its row is then unused).
func filterRow(out *[5][]byte, cur, prev []byte, bpp int) int {
	n := len(cur)
	best, bestSum := 0, 0
	o := out[0][1:]
	copy(o, cur)
	for _, v := range o {
		bestSum += mag(v)
	}
	try := func(f int, pred func(i int) byte) {
		o := out[f][1 : n+1]
		sum := 0
		for i := range n {
			v := cur[i] - pred(i)
			o[i] = v
			if sum += mag(v); sum >= bestSum {
				return
			}
		}
		best, bestSum = f, sum
	}
	try(2, func(i int) byte { return prev[i] })
	try(1, func(i int) byte {
		if i < bpp {
			return 0
		}
		return cur[i-bpp]
	})
	try(3, func(i int) byte {
		if i < bpp {
			return prev[i] / 2
		}
		return byte((int(cur[i-bpp]) + int(prev[i])) / 2)
	})
	try(4, func(i int) byte {
		if i < bpp {
			return prev[i] // Paeth with a and c zero is b
		}
		return paeth(cur[i-bpp], prev[i], prev[i-bpp])
	})
	return best
}

// mag is the magnitude of b read as a signed byte.
func mag(b byte) int {
	v := int(int8(b))
	if v < 0 {
		return -v
	}
	return v
}

// paeth is the PNG Paeth predictor: whichever of left (a), above (b) and
// upper left (c) is nearest to a + b - c, ties in that order.
func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := absInt(p-int(a)), absInt(p-int(b)), absInt(p-int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
