package thumbs

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"spano/internal/testphoto"
	"testing"

	"github.com/gen2brain/webp"
)

// Test images are made here, in the test, so that what each one holds is
// visible next to what is checked.

var (
	red  = color.RGBA{R: 230, G: 20, B: 20, A: 255}
	grey = color.RGBA{R: 90, G: 140, B: 160, A: 255}
)

// markedImage is w×h of grey with its stored top-left quarter-by-quarter
// block red, so that after orientation the red block shows which corner
// the stored top-left ended up in.
func markedImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := grey
			if x < w/4 && y < h/4 {
				c = red
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// jpegBytes encodes img; with o > 0 it carries an EXIF orientation o.
func jpegBytes(t testing.TB, img image.Image, o int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	if o == 0 {
		return b.Bytes()
	}
	return testphoto.WithSegment(b.Bytes(), 0xe1, testphoto.EXIFOrientation(o, binary.BigEndian))
}

func pngBytes(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// animatedGIF has a red first frame and a grey second one.
func animatedGIF(t testing.TB, w, h int) []byte {
	t.Helper()
	frame := func(c color.Color) *image.Paletted {
		p := image.NewPaletted(image.Rect(0, 0, w, h), palette.Plan9)
		idx := uint8(p.Palette.Index(c))
		for i := range p.Pix {
			p.Pix[i] = idx
		}
		return p
	}
	var b bytes.Buffer
	err := gif.EncodeAll(&b, &gif.GIF{
		Image: []*image.Paletted{frame(red), frame(grey)},
		Delay: []int{10, 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngHeaderOnly is a PNG signature and a valid IHDR claiming w×h, with no
// pixel data at all: a few dozen bytes that would need gigabytes decoded.
func pngHeaderOnly(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8] = 8 // bit depth
	ihdr[9] = 6 // RGBA
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// writeFile puts data in a fresh temp dir and returns its path.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func isRed(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r>>8 > 180 && g>>8 < 80 && b>>8 < 80
}

// redCorner names the corner of img whose inner point (an eighth of the
// way in) is red, or "none"/"several".
func redCorner(img image.Image) string {
	b := img.Bounds()
	dx, dy := b.Dx()/8, b.Dy()/8
	corners := []struct {
		name string
		x, y int
	}{
		{"top-left", b.Min.X + dx, b.Min.Y + dy},
		{"top-right", b.Max.X - 1 - dx, b.Min.Y + dy},
		{"bottom-left", b.Min.X + dx, b.Max.Y - 1 - dy},
		{"bottom-right", b.Max.X - 1 - dx, b.Max.Y - 1 - dy},
	}
	found := "none"
	for _, c := range corners {
		if isRed(img.At(c.x, c.y)) {
			if found != "none" {
				return "several"
			}
			found = c.name
		}
	}
	return found
}

// webpBytes encodes img as WebP with gen2brain/webp (libwebp in WASM, or
// the system's libwebp): lossy at quality 90, or lossless.
func webpBytes(t testing.TB, img image.Image, lossless bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := webp.Encode(&buf, img, webp.Options{Quality: 90, Lossless: lossless}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// alphaImage is a blue image whose left half is fully transparent.
func alphaImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			a := uint8(255)
			if x < w/2 {
				a = 0
			}
			img.SetNRGBA(x, y, color.NRGBA{0, 0, 200, a})
		}
	}
	return img
}
