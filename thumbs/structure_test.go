package thumbs

import (
	"bytes"
	"context"
	"errors"
	"image"
	"testing"

	"github.com/gen2brain/avif"
)

func avifBytes(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := avif.Encode(&buf, img, avif.Options{Quality: 80, Speed: 10}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// With no thumbnail due, the structure walk alone must refuse truncated
// and corrupt files of every format, where a decode is not run.
func TestTruncatedWithoutThumbnails(t *testing.T) {
	jpg := jpegBytes(t, markedImage(200, 150), 0)
	pngb := pngBytes(t, markedImage(200, 150))
	gifb := animatedGIF(t, 200, 150)
	lossy := webpBytes(t, markedImage(200, 150), false)
	lossless := webpBytes(t, alphaImage(200, 150), true)
	av := avifBytes(t, markedImage(200, 150))
	badCRC := bytes.Clone(pngb)
	badCRC[len(badCRC)-20] ^= 1 // inside the last IDAT
	riffLie := bytes.Clone(lossy)
	riffLie[4]++
	cut := func(b []byte, n int) []byte { return b[:len(b)-n] }
	tests := []struct {
		name, mimeType string
		data           []byte
		wantErr        error
	}{
		{"jpeg intact", "image/jpeg", jpg, nil},
		{"jpeg without EOI", "image/jpeg", cut(jpg, 2), ErrUndecodable},
		{"jpeg cut in the scan", "image/jpeg", jpg[:len(jpg)*2/3], ErrUndecodable},
		{"jpeg without a scan", "image/jpeg", jpg[:bytes.Index(jpg, []byte{0xff, 0xda})], ErrUndecodable},
		{"png intact", "image/png", pngb, nil},
		{"png without IEND", "image/png", cut(pngb, 12), ErrUndecodable},
		{"png cut in IDAT", "image/png", pngb[:len(pngb)/2], ErrUndecodable},
		{"png with a bad CRC", "image/png", badCRC, ErrUndecodable},
		{"gif intact", "image/gif", gifb, nil},
		{"gif without trailer", "image/gif", cut(gifb, 1), ErrUndecodable},
		{"gif cut in a frame", "image/gif", gifb[:len(gifb)/2], ErrUndecodable},
		{"webp lossy intact", "image/webp", lossy, nil},
		{"webp lossy cut", "image/webp", cut(lossy, 10), ErrUndecodable},
		{"webp RIFF size wrong", "image/webp", riffLie, ErrUndecodable},
		{"webp lossless intact", "image/webp", lossless, nil},
		{"webp lossless cut", "image/webp", cut(lossless, 10), ErrUndecodable},
		{"avif intact", "image/avif", av, nil},
		{"avif cut", "image/avif", cut(av, 10), ErrUndecodable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMaker(t) // no widths: nothing is decoded
			img, err := m.Make(context.Background(), writeFile(t, "up", tt.data), tt.mimeType)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Make = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (img.Width != 200 || img.Height != 150) {
				t.Errorf("size %v, want 200×150", img.Size)
			}
		})
	}
}

// An image that needs no thumbnail is not decoded: a JPEG whose markers
// are intact but whose entropy-coded data is garbage passes without
// thumbnails and is refused when a thumbnail needs its pixels.
func TestNoDecodeWithoutThumbnails(t *testing.T) {
	jpg := bytes.Clone(jpegBytes(t, markedImage(200, 150), 0))
	sos := bytes.Index(jpg, []byte{0xff, 0xda})
	start := sos + 2 + int(jpg[sos+2])<<8 + int(jpg[sos+3])
	for i := start; i < len(jpg)-2; i++ {
		jpg[i] = 0x55 // no 0xFF, so the markers stay; the Huffman codes do not
	}
	src := writeFile(t, "garbled.jpg", jpg)
	if _, err := newMaker(t, 320).Make(context.Background(), src, "image/jpeg"); err != nil {
		t.Fatalf("without thumbnails: %v", err)
	}
	if _, err := newMaker(t, 100).Make(context.Background(), src, "image/jpeg"); !errors.Is(err, ErrUndecodable) {
		t.Fatalf("with a thumbnail: %v, want ErrUndecodable", err)
	}
}
