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
