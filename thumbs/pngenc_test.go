package thumbs

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"testing"

	"github.com/disintegration/imaging"
)

// pngCases are images of every kind encodePNG writes itself: opaque and
// translucent NRGBA, grey, of odd sizes, one a sub-image, one whose data
// needs several IDAT chunks.
func pngCases() map[string]image.Image {
	rnd := rand.New(rand.NewPCG(1, 2))
	paint := func(img image.Image, set func(x, y int, v uint8), noise int) image.Image {
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				set(x, y, uint8(x*7+y*3+rnd.IntN(noise+1)))
			}
		}
		return img
	}
	nrgba := func(w, h, noise int, alpha bool) image.Image {
		m := image.NewNRGBA(image.Rect(0, 0, w, h))
		return paint(m, func(x, y int, v uint8) {
			a := uint8(255)
			if alpha {
				a = v ^ 0x55
			}
			m.SetNRGBA(x, y, color.NRGBA{v, v / 2, 255 - v, a})
		}, noise)
	}
	grey := image.NewGray(image.Rect(0, 0, 33, 17))
	paint(grey, func(x, y int, v uint8) { grey.SetGray(x, y, color.Gray{v}) }, 9)
	big := nrgba(700, 700, 255, true)
	return map[string]image.Image{
		"1x1 opaque":        nrgba(1, 1, 0, false),
		"1x1 translucent":   nrgba(1, 1, 0, true),
		"5x3 opaque":        nrgba(5, 3, 40, false),
		"97x31 translucent": nrgba(97, 31, 3, true),
		"320x240 opaque":    nrgba(320, 240, 8, false),
		"grey 33x17":        grey,
		"sub-image":         nrgba(64, 48, 20, false).(*image.NRGBA).SubImage(image.Rect(5, 7, 50, 40)),
		"700x700 noise":     big, // ~2 MB of IDAT data: two chunks
	}
}

func TestEncodePNGRoundTrip(t *testing.T) {
	for name, img := range pngCases() {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := encodePNG(&buf, img); err != nil {
				t.Fatal(err)
			}
			got, err := png.Decode(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatalf("image/png cannot read it: %v", err)
			}
			b := img.Bounds()
			if got.Bounds().Size() != b.Size() {
				t.Fatalf("size %v, want %v", got.Bounds().Size(), b.Size())
			}
			for y := 0; y < b.Dy(); y++ {
				for x := 0; x < b.Dx(); x++ {
					want := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y))
					if c := color.NRGBAModel.Convert(got.At(x, y)); c != want {
						t.Fatalf("pixel (%d, %d) = %v, want %v", x, y, c, want)
					}
				}
			}
		})
	}
}

// TestEncodePNGColourType checks that an opaque image loses its alpha
// channel (RGB, as image/png writes it) and a grey one stays grey.
func TestEncodePNGColourType(t *testing.T) {
	cases := pngCases()
	for name, want := range map[string]byte{"5x3 opaque": 2, "97x31 translucent": 6, "grey 33x17": 0} {
		var buf bytes.Buffer
		if err := encodePNG(&buf, cases[name]); err != nil {
			t.Fatal(err)
		}
		// The signature (8), IHDR's length and type (8), width, height,
		// bit depth: the colour type is byte 25.
		if got := buf.Bytes()[25]; got != want {
			t.Errorf("%s: colour type %d, want %d", name, got, want)
		}
	}
}

// BenchmarkEncodePNG is the measurement behind pngLevel: encodePNG at
// klauspost/compress's levels against image/png's default, on a 320 px
// thumbnail of a screenshot-like image (the upload bench's) and of a
// photo, reporting the bytes each writes.
func BenchmarkEncodePNG(b *testing.B) {
	for _, c := range []struct {
		name string
		mask uint8
	}{{"screenshot", 0x80}, {"photo", 0xff}} {
		img := thumbnailOf(b, c.mask)
		b.Run(c.name+"/image-png", func(b *testing.B) {
			var buf bytes.Buffer
			timed(b, func() {
				buf.Reset()
				if err := png.Encode(&buf, img); err != nil {
					b.Fatal(err)
				}
			})
			b.ReportMetric(float64(buf.Len()), "bytes")
		})
		b.Run(c.name+"/encodePNG", func(b *testing.B) {
			var buf bytes.Buffer
			timed(b, func() {
				buf.Reset()
				if err := encodePNG(&buf, img); err != nil {
					b.Fatal(err)
				}
			})
			b.ReportMetric(float64(buf.Len()), "bytes")
		})
	}
}

// thumbnailOf is a 320 px thumbnail, as Make resizes it, of maskedPNG.
func thumbnailOf(b *testing.B, mask uint8) image.Image {
	b.Helper()
	img, err := png.Decode(bytes.NewReader(maskedPNG(b, mask)))
	if err != nil {
		b.Fatal(err)
	}
	return imaging.Resize(img, 320, 0, imaging.Lanczos)
}
