package thumbs

import (
	"fmt"
	"image"
	"testing"
)

// shrinkPlane must equal the plain average of each box, partial boxes at
// the right and bottom edges included.
func TestShrinkPlane(t *testing.T) {
	for _, tt := range []struct{ w, h, d int }{{7, 5, 2}, {8, 6, 2}, {9, 9, 3}, {10, 3, 4}, {12, 9, 4}, {1, 1, 3}, {2, 7, 3}, {4000 / 50, 3000 / 50, 3}} {
		t.Run(fmt.Sprintf("%dx%d/%d", tt.w, tt.h, tt.d), func(t *testing.T) {
			stride := tt.w + 3
			src := make([]uint8, stride*tt.h)
			for i := range src {
				src[i] = uint8(i*37 + i/7)
			}
			got := shrinkPlane(src, stride, tt.w, tt.h, tt.d)
			ow, oh := (tt.w+tt.d-1)/tt.d, (tt.h+tt.d-1)/tt.d
			if len(got) != ow*oh {
				t.Fatalf("len %d, want %d", len(got), ow*oh)
			}
			for y := 0; y < oh; y++ {
				for x := 0; x < ow; x++ {
					sum, n := 0, 0
					for yy := y * tt.d; yy < min(tt.h, (y+1)*tt.d); yy++ {
						for xx := x * tt.d; xx < min(tt.w, (x+1)*tt.d); xx++ {
							sum += int(src[yy*stride+xx])
							n++
						}
					}
					if want := uint8((sum + n/2) / n); got[y*ow+x] != want {
						t.Fatalf("(%d,%d) = %d, want %d", x, y, got[y*ow+x], want)
					}
				}
			}
		})
	}
}

// shrink of an opaque RGBA or NRGBA image is shrinkPlane of each of its
// red, green and blue, opaque; one with a transparent pixel is left to
// the resampler.
func TestShrinkRGBA(t *testing.T) {
	for _, tt := range []struct{ w, h, d int }{{7, 5, 2}, {8, 6, 2}, {9, 9, 3}, {10, 3, 4}, {1, 1, 3}, {80, 60, 5}} {
		t.Run(fmt.Sprintf("%dx%d/%d", tt.w, tt.h, tt.d), func(t *testing.T) {
			frame := image.NewNRGBA(image.Rect(0, 0, tt.w+2, tt.h+1))
			for i := range frame.Pix {
				frame.Pix[i] = uint8(i*37 + i/7)
				if i%4 == 3 {
					frame.Pix[i] = 255
				}
			}
			src := frame.SubImage(image.Rect(2, 1, tt.w+2, tt.h+1)).(*image.NRGBA)
			var planes [3][]uint8
			for c := range planes {
				planes[c] = make([]uint8, tt.w*tt.h)
				for y := range tt.h {
					for x := range tt.w {
						planes[c][y*tt.w+x] = src.Pix[src.PixOffset(2+x, 1+y)+c]
					}
				}
				planes[c] = shrinkPlane(planes[c], tt.w, tt.w, tt.h, tt.d)
			}
			rgba := &image.RGBA{Pix: src.Pix, Stride: src.Stride, Rect: src.Rect}
			for _, img := range []image.Image{src, rgba} {
				got, ok := shrink(img, tt.d).(*image.NRGBA)
				ow, oh := (tt.w+tt.d-1)/tt.d, (tt.h+tt.d-1)/tt.d
				if !ok || got.Rect != image.Rect(0, 0, ow, oh) {
					t.Fatalf("%T: shrink = %T %v, want NRGBA %dx%d", img, got, got.Bounds(), ow, oh)
				}
				for i := range ow * oh {
					p := got.Pix[4*i : 4*i+4]
					if p[0] != planes[0][i] || p[1] != planes[1][i] || p[2] != planes[2][i] || p[3] != 255 {
						t.Fatalf("%T: pixel %d = %v, want %d %d %d 255", img, i, p, planes[0][i], planes[1][i], planes[2][i])
					}
				}
			}
			src.Pix[3] = 254
			if got := shrink(src, tt.d); got != image.Image(src) {
				t.Errorf("an image with a translucent pixel was shrunk (%T)", got)
			}
		})
	}
}

// A shrunk YCbCr image keeps its subsampling and a consistent layout
// (the image package's own accessors read every pixel without panicking).
func TestShrinkYCbCr(t *testing.T) {
	for _, r := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio440} {
		src := image.NewYCbCr(image.Rect(0, 0, 101, 67), r)
		for i := range src.Y {
			src.Y[i] = 200
		}
		for i := range src.Cb {
			src.Cb[i], src.Cr[i] = 90, 160
		}
		got := shrink(src, 3).(*image.YCbCr)
		if got.Rect != image.Rect(0, 0, 34, 23) || got.SubsampleRatio != r {
			t.Fatalf("%v: %v %v", r, got.Rect, got.SubsampleRatio)
		}
		for y := 0; y < 23; y++ {
			for x := 0; x < 34; x++ {
				if c := got.YCbCrAt(x, y); c.Y != 200 || c.Cb != 90 || c.Cr != 160 {
					t.Fatalf("%v: (%d,%d) = %v", r, x, y, c)
				}
			}
		}
	}
}

func TestShrinkFactor(t *testing.T) {
	for _, tt := range []struct{ w, h, tw, th, want int }{
		{4000, 3000, 1280, 960, 3},
		{4000, 3000, 320, 240, 12},
		{1300, 900, 1280, 886, 1},
		{3000, 4000, 960, 1280, 3},
	} {
		if got := shrinkFactor(tt.w, tt.h, tt.tw, tt.th); got != tt.want {
			t.Errorf("shrinkFactor(%d, %d, %d, %d) = %d, want %d", tt.w, tt.h, tt.tw, tt.th, got, tt.want)
		}
	}
}

// The reciprocal in boxSums gives exactly (s+n/2)/n for every box size
// shrink can make and every sum of bytes.
func TestBoxMeanExact(t *testing.T) {
	for n := uint64(1); n <= maxShrink*maxShrink; n++ {
		recip := (1<<40 + n - 1) / n
		for s := uint64(0); s <= 255*n; s += max(1, n/7) {
			if got, want := ((s+n/2)*recip)>>40, (s+n/2)/n; got != want {
				t.Fatalf("n %d, s %d: %d, want %d", n, s, got, want)
			}
		}
		if s := 255 * n; ((s+n/2)*recip)>>40 != 255 {
			t.Fatalf("n %d: full box is not 255", n)
		}
	}
}
