// Package testphoto paints the photo the thumbnail benchmarks use, so the
// Go benchmark and the side-by-side comparison with sharp measure the
// same image.
package testphoto

import (
	"image"
	"math"
	"math/rand/v2"
)

// Paint returns a deterministic photo-like image (gradients, fine
// texture, sensor-like noise): at 4000×3000 and JPEG quality 90 it is
// about 3.9 MB and decodes like a phone photo, not a flat test card.
func Paint(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(1, 2))
	clamp := func(v float64) uint8 { return uint8(math.Max(0, math.Min(255, v+0.5))) }
	for y := 0; y < h; y++ {
		fy := float64(y) / float64(h)
		for x := 0; x < w; x++ {
			fx := float64(x) / float64(w)
			tex := 30 * math.Sin(float64(x)*0.21+3*math.Sin(float64(y)*0.013)) * math.Sin(float64(y)*0.17)
			n := rng.NormFloat64() * 6
			i := img.PixOffset(x, y)
			img.Pix[i+0] = clamp(200*fx + 40*fy + tex + n)
			img.Pix[i+1] = clamp(120 + 90*math.Sin(6*fx+4*fy) + tex*0.6 + n)
			img.Pix[i+2] = clamp(220*(1-fy) + tex*0.3 + n)
			img.Pix[i+3] = 255
		}
	}
	return img
}
