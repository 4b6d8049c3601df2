package thumbs

import (
	"bytes"
	"errors"
	"image"
	"io"
	"testing"
	"testing/iotest"
)

// Fuzz targets for the structure walks and the ICC reassembly. Besides
// not panicking and refusing only with errStructure or ErrMarkup, each
// walk that ends on a marker must refuse a file cut one byte before the
// point where it stopped reading (JPEG's EOI, PNG's IEND CRC and GIF's
// trailer are the last bytes it reads), which is what makes the walk a
// truncation check. Bytes after that point are another matter: cameras
// append a second picture after a JPEG's EOI, so the walk leaves them be.

func fuzzWalk(f *testing.F, seeds [][]byte, walk func(r io.Reader, size int64) error, endsOnMarker bool) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := walk(bytes.NewReader(data), int64(len(data)))
		if err != nil && !errors.Is(err, errStructure) && !errors.Is(err, ErrMarkup) {
			t.Fatalf("error %v is neither malformed nor markup", err)
		}
		if err != nil || !endsOnMarker {
			return
		}
		// Read a byte at a time, the walk's buffer holds nothing it has
		// not asked for: what it read is where it stopped.
		r := &countingReader{r: iotest.OneByteReader(bytes.NewReader(data))}
		if err := walk(r, int64(len(data))); err != nil {
			t.Fatalf("accepted whole, refused read a byte at a time: %v", err)
		}
		if r.n == 0 {
			t.Fatal("accepted without reading a byte")
		}
		cut := data[:r.n-1]
		if walk(bytes.NewReader(cut), int64(len(cut))) == nil {
			t.Fatalf("accepted with byte %d of %d, the last it read, cut off", r.n, len(data))
		}
	})
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func FuzzWalkJPEG(f *testing.F) {
	plain := jpegBytes(f, markedImage(24, 16), 6)
	seeds := [][]byte{plain, progressiveJPEG(16, 16, []byte{0x22, 0x11, 0x11}, 3), insertICC(plain, []byte("profile bytes"), 5, nil),
		append(bytes.Clone(plain), plain...), append(bytes.Clone(plain), 0xff, 0xd9)}
	fuzzWalk(f, seeds, func(r io.Reader, _ int64) error { _, err := walkJPEG(r); return err }, true)
}

func FuzzWalkPNG(f *testing.F) {
	plain := pngBytes(f, markedImage(8, 8))
	seeds := [][]byte{plain, withPNGChunk(plain, "zTXt", append([]byte("k\x00\x00"), zlibBytes([]byte("text"))...)),
		withPNGChunk(plain, "iTXt", []byte("k\x00\x00\x00en\x00k\x00text"))}
	fuzzWalk(f, seeds, func(r io.Reader, _ int64) error { _, err := walkPNG(r); return err }, true)
}

func FuzzWalkGIF(f *testing.F) {
	fuzzWalk(f, [][]byte{animatedGIF(f, 8, 8), gifBytes(f, markedImage(8, 8))},
		func(r io.Reader, _ int64) error { return walkGIF(r) }, true)
}

func FuzzWalkWebP(f *testing.F) {
	seeds := [][]byte{webpBytes(f, markedImage(8, 8), false), webpBytes(f, alphaImage(8, 8), true), webpBytes(f, alphaImage(8, 8), false)}
	fuzzWalk(f, seeds, func(r io.Reader, size int64) error { _, err := walkWebP(r, size); return err }, false)
}

func FuzzWalkAVIF(f *testing.F) {
	fuzzWalk(f, [][]byte{avifBytes(f, image.NewRGBA(image.Rect(0, 0, 8, 8)))},
		func(r io.Reader, size int64) error { return walkISOBMFF(r, size, "avif", "avis") }, false)
}

// FuzzAssembleICC: a reassembled profile is the chunks' data in sequence
// order, or nil; never more than maxICC.
func FuzzAssembleICC(f *testing.F) {
	f.Add([]byte{1, 2, 'a', 'b'}, []byte{2, 2, 'c'}, []byte{})
	f.Add([]byte{1, 1, 'a'}, []byte{}, []byte{})
	f.Add([]byte{2, 3, 'a'}, []byte{1, 3, 'b'}, []byte{3, 3, 'c'})
	f.Fuzz(func(t *testing.T, a, b, c []byte) {
		var segs [][]byte
		for _, s := range [][]byte{a, b, c} {
			if len(s) > 0 {
				segs = append(segs, s)
			}
		}
		p := assembleICC(segs)
		if p == nil {
			return
		}
		want := 0
		for _, s := range segs {
			want += len(s) - 2
		}
		if len(p) != want || len(p) > maxICC {
			t.Fatalf("profile of %d bytes from chunks of %d", len(p), want)
		}
	})
}
