package thumbs

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"testing"

	"github.com/disintegration/imaging"
)

// noisyImage is an opaque image with detail at every frequency, the hard
// case for a resampler.
func noisyImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range img.Pix {
		if i%4 == 3 {
			img.Pix[i] = 255
			continue
		}
		img.Pix[i] = uint8(rng.IntN(256))
	}
	return img
}

// mildImage is an opaque image of gradients and mild noise whose colours
// stay inside the RGB gamut, like most photos.
func mildImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(5, 6))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := img.PixOffset(x, y)
			n := uint8(rng.IntN(16))
			img.Pix[i+0] = uint8(60+100*x/w) + n
			img.Pix[i+1] = uint8(80+90*y/h) + n
			img.Pix[i+2] = uint8(140-60*x/w) + n
			img.Pix[i+3] = 255
		}
	}
	return img
}

// resizeOpaque must agree with imaging.Resize (float64 throughout) to
// within the rounding of its 8-bit intermediate: at most 2 levels for RGB
// and grey sources. A YCbCr source is resampled before colour conversion
// and its chroma kept at half resolution (the result is 4:2:0 too, as the
// JPEG thumbnail will be), so on in-gamut colours it may differ by a few
// levels more where the chroma changes fastest; on saturated noise it
// differs more still, because imaging clips each pixel to RGB before
// averaging (BenchmarkFilters measures the photo against a float
// reference instead).
func TestResizeOpaqueMatchesImaging(t *testing.T) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, mildImage(301, 203), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	ycbcr, err := jpeg.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	gray := image.NewGray(image.Rect(0, 0, 120, 80))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 7)
	}
	sources := []struct {
		name      string
		img       image.Image
		tolerance int
	}{
		{"nrgba", noisyImage(301, 203), 2},
		{"ycbcr420", ycbcr, 6},
		{"gray", gray, 2},
		{"subimage", noisyImage(400, 300).SubImage(image.Rect(17, 9, 317, 259)), 2},
	}
	sizes := []image.Point{{100, 67}, {150, 101}, {37, 200}, {1, 1}, {300, 1}, {50, 50}}
	filters := map[string]imaging.ResampleFilter{"CatmullRom": imaging.CatmullRom, "Lanczos": imaging.Lanczos, "Box": imaging.Box}
	for _, src := range sources {
		for fname, f := range filters {
			for _, sz := range sizes {
				t.Run(fmt.Sprintf("%s/%s/%dx%d", src.name, fname, sz.X, sz.Y), func(t *testing.T) {
					got := imaging.Clone(resizeOpaque(src.img, sz.X, sz.Y, f))
					want := imaging.Resize(src.img, sz.X, sz.Y, f)
					if got.Rect != want.Rect {
						t.Fatalf("bounds %v, want %v", got.Rect, want.Rect)
					}
					worst := 0
					for i := range got.Pix {
						d := int(got.Pix[i]) - int(want.Pix[i])
						worst = max(worst, d, -d)
					}
					if worst > src.tolerance {
						t.Errorf("differs from imaging.Resize by up to %d levels, want ≤ %d", worst, src.tolerance)
					}
				})
			}
		}
	}
}
