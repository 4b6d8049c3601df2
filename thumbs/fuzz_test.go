package thumbs

import (
	"bytes"
	"errors"
	"image"
	"testing"
)

// Fuzz targets for the structure walks and the ICC reassembly. Besides
// not panicking and refusing only with errStructure or ErrMarkup, each
// walk that accepts a file must refuse it with its last byte cut off
// (JPEG's EOI, PNG's IEND CRC and GIF's trailer are the last bytes), which
// is what makes the walk a truncation check.

func fuzzWalk(f *testing.F, seeds [][]byte, walk func([]byte) error, lastByteNeeded bool) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := walk(data)
		if err != nil && !errors.Is(err, errStructure) && !errors.Is(err, ErrMarkup) {
			t.Fatalf("error %v is neither malformed nor markup", err)
		}
		if err == nil && lastByteNeeded && len(data) > 0 {
			if walk(data[:len(data)-1]) == nil {
				t.Fatal("accepted with its last byte cut off")
			}
		}
	})
}

func FuzzWalkJPEG(f *testing.F) {
	plain := jpegBytes(f, markedImage(24, 16), 6)
	seeds := [][]byte{plain, progressiveJPEG(16, 16, []byte{0x22, 0x11, 0x11}, 3), insertICC(plain, []byte("profile bytes"), 5, nil)}
	fuzzWalk(f, seeds, func(b []byte) error { _, err := walkJPEG(bytes.NewReader(b)); return err }, true)
}

func FuzzWalkPNG(f *testing.F) {
	plain := pngBytes(f, markedImage(8, 8))
	seeds := [][]byte{plain, withPNGChunk(plain, "zTXt", append([]byte("k\x00\x00"), zlibBytes([]byte("text"))...)),
		withPNGChunk(plain, "iTXt", []byte("k\x00\x00\x00en\x00k\x00text"))}
	fuzzWalk(f, seeds, func(b []byte) error { _, err := walkPNG(bytes.NewReader(b)); return err }, true)
}

func FuzzWalkGIF(f *testing.F) {
	fuzzWalk(f, [][]byte{animatedGIF(f, 8, 8), gifBytes(f, markedImage(8, 8))},
		func(b []byte) error { return walkGIF(bytes.NewReader(b)) }, true)
}

func FuzzWalkWebP(f *testing.F) {
	seeds := [][]byte{webpBytes(f, markedImage(8, 8), false), webpBytes(f, alphaImage(8, 8), true), webpBytes(f, alphaImage(8, 8), false)}
	fuzzWalk(f, seeds, func(b []byte) error { _, err := walkWebP(bytes.NewReader(b), int64(len(b))); return err }, false)
}

func FuzzWalkAVIF(f *testing.F) {
	fuzzWalk(f, [][]byte{avifBytes(f, image.NewRGBA(image.Rect(0, 0, 8, 8)))},
		func(b []byte) error { return walkISOBMFF(bytes.NewReader(b), int64(len(b)), "avif", "avis") }, false)
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
