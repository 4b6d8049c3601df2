package thumbs

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"sync"

	"github.com/klauspost/compress/zlib"
)

// PNG thumbnails (screenshots, diagrams, images with alpha) were, after
// the decode, most of an upload's CPU: image/png's encoder deflates with
// compress/flate at level 6. encodePNG writes the same kind of file (8-bit
// RGB, RGBA or grey, the adaptive filter choice of libpng and image/png)
// deflated with klauspost/compress at pngLevel, whose files are within
// 3% of image/png's in size (smaller on a photo) at half to two thirds of
// the CPU (BenchmarkEncodePNG).

// pngLevel is klauspost/compress's level 7. Level 6 costs a quarter less
// and writes 2-5% more bytes than 7 on screenshots' thumbnails; level 8
// matches image/png's bytes at image/png's cost.
const pngLevel = 7

// pngZlib keeps encodePNG's compressors: a new one allocates and clears
// about a megabyte of tables.
var pngZlib sync.Pool

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
	zw, _ := pngZlib.Get().(*zlib.Writer)
	if zw == nil {
		var err error
		if zw, err = zlib.NewWriterLevel(&idat, pngLevel); err != nil {
			return err
		}
	} else {
		zw.Reset(&idat)
	}
	defer pngZlib.Put(zw)
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
// sum passes the best so far (its row is then unused). The first bpp
// bytes have no left neighbour: a and c are zero there.
func filterRow(out *[5][]byte, cur, prev []byte, bpp int) int {
	n := len(cur)
	prev = prev[:n]
	best, bestSum := 0, 0
	copy(out[0][1:], cur)
	for _, v := range cur {
		bestSum += mag(v)
	}
	pick := func(f, sum int) {
		if sum < bestSum {
			best, bestSum = f, sum
		}
	}

	o, sum := out[2][1:n+1], 0 // up
	for i := 0; i < n && sum < bestSum; i++ {
		o[i] = cur[i] - prev[i]
		sum += mag(o[i])
	}
	pick(2, sum)

	o, sum = out[1][1:n+1], 0 // sub
	copy(o[:bpp], cur[:bpp])
	for i := range bpp {
		sum += mag(o[i])
	}
	for i := bpp; i < n && sum < bestSum; i++ {
		o[i] = cur[i] - cur[i-bpp]
		sum += mag(o[i])
	}
	pick(1, sum)

	o, sum = out[3][1:n+1], 0 // average
	for i := range bpp {
		o[i] = cur[i] - prev[i]/2
		sum += mag(o[i])
	}
	for i := bpp; i < n && sum < bestSum; i++ {
		o[i] = cur[i] - byte((uint(cur[i-bpp])+uint(prev[i]))/2)
		sum += mag(o[i])
	}
	pick(3, sum)

	o, sum = out[4][1:n+1], 0 // Paeth
	for i := range bpp {
		o[i] = cur[i] - prev[i]
		sum += mag(o[i])
	}
	for i := bpp; i < n && sum < bestSum; i++ {
		o[i] = cur[i] - paeth(cur[i-bpp], prev[i], prev[i-bpp])
		sum += mag(o[i])
	}
	pick(4, sum)
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
