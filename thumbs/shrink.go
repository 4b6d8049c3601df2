package thumbs

import (
	"image"
)

// The standard library's JPEG decoder has no shrink-on-load (libjpeg's DCT
// scaling, which libvips uses), so a 12 MP photo always decodes at full
// size. shrink gives the resampler what DCT scaling would have: the planes
// averaged over d×d boxes, which costs one read of each plane and makes
// the filtered resample that follows d² times cheaper.

// maxShrink bounds the box, so that a column of a box's sums fits 16
// bits; beyond it (a 20000×1 strip to 320 px) the resampler does the rest.
const maxShrink = 64

// shrinkFactor is the largest integer d that keeps a w×h image shrunk by
// d at least tw×th, as libvips' shrink-on-load picks it (but any integer,
// not only 2, 4 or 8: 4000 px → 1280 px shrinks by 3 to 1334 px, leaving
// the filter a 4% step).
func shrinkFactor(w, h, tw, th int) int {
	d := 1
	for c := 2; c <= maxShrink && (w+c-1)/c >= tw && (h+c-1)/c >= th; c++ {
		d = c
	}
	return d
}

// shrink returns img averaged over d×d boxes (the last row and column of
// boxes may be partial). YCbCr keeps its subsampling, each plane shrunk on
// its own; grey stays grey; opaque RGBA and NRGBA (a screenshot's PNG)
// become opaque NRGBA; other models, and images with transparent pixels
// (whose boxes need weighting by alpha), are returned as they are (the
// resampler reads them at full size).
func shrink(img image.Image, d int) image.Image {
	if d <= 1 {
		return img
	}
	switch s := img.(type) {
	case *image.YCbCr:
		b := s.Rect
		w, h := (b.Dx()+d-1)/d, (b.Dy()+d-1)/d
		cw, ch := chromaSize(s)
		co := s.COffset(b.Min.X, b.Min.Y)
		return &image.YCbCr{
			Y:              shrinkPlane(s.Y[s.YOffset(b.Min.X, b.Min.Y):], s.YStride, b.Dx(), b.Dy(), d),
			Cb:             shrinkPlane(s.Cb[co:], s.CStride, cw, ch, d),
			Cr:             shrinkPlane(s.Cr[co:], s.CStride, cw, ch, d),
			YStride:        w,
			CStride:        (cw + d - 1) / d,
			SubsampleRatio: s.SubsampleRatio,
			Rect:           image.Rect(0, 0, w, h),
		}
	case *image.Gray:
		b := s.Rect
		w, h := (b.Dx()+d-1)/d, (b.Dy()+d-1)/d
		return &image.Gray{Pix: shrinkPlane(s.Pix[s.PixOffset(b.Min.X, b.Min.Y):], s.Stride, b.Dx(), b.Dy(), d), Stride: w, Rect: image.Rect(0, 0, w, h)}
	case *image.NRGBA:
		if s.Opaque() {
			return shrinkRGBA(s.Pix[s.PixOffset(s.Rect.Min.X, s.Rect.Min.Y):], s.Stride, s.Rect.Dx(), s.Rect.Dy(), d)
		}
	case *image.RGBA:
		if s.Opaque() { // premultiplied by 255: the same bytes as NRGBA
			return shrinkRGBA(s.Pix[s.PixOffset(s.Rect.Min.X, s.Rect.Min.Y):], s.Stride, s.Rect.Dx(), s.Rect.Dy(), d)
		}
	}
	return img
}

// shrinkRGBA is shrinkPlane for the red, green and blue of sw×sh opaque
// 4-byte pixels (rows stride apart), all three at once: the columns of a
// band of rows are summed across the interleaved row, then each box's
// d pixels channel by channel. The result is opaque NRGBA.
func shrinkRGBA(src []uint8, stride, sw, sh, d int) *image.NRGBA {
	w, h := (sw+d-1)/d, (sh+d-1)/d
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	parallelRows(h, func(y0, y1 int) {
		cols := make([]uint16, 4*sw) // d ≤ 255 rows of 255 fit
		for y := y0; y < y1; y++ {
			rows := min(d, sh-y*d)
			copyRow(cols, src[y*d*stride:y*d*stride+4*sw])
			for r := 1; r < rows; r++ {
				addRow(cols, src[(y*d+r)*stride:(y*d+r)*stride+4*sw])
			}
			out := dst.Pix[y*dst.Stride : y*dst.Stride+4*w]
			for x := range w {
				box := cols[4*x*d : 4*min(sw, x*d+d)]
				n := uint64(rows * len(box) / 4)
				var r, g, b uint64
				for i := 0; i < len(box); i += 4 {
					r, g, b = r+uint64(box[i]), g+uint64(box[i+1]), b+uint64(box[i+2])
				}
				o := out[4*x : 4*x+4 : 4*x+4]
				o[0], o[1], o[2], o[3] = uint8((r+n/2)/n), uint8((g+n/2)/n), uint8((b+n/2)/n), 255
			}
		}
	})
	return dst
}

// shrinkPlane averages an 8-bit plane of sw×sh (rows stride apart) over
// d×d boxes and returns the result packed, ceil(sw/d) × ceil(sh/d). A
// band of d ≤ 4 full rows is averaged in one pass (boxRows); otherwise
// the band is summed column by column first (a loop the compiler keeps
// tight), then across each box's d columns.
func shrinkPlane(src []uint8, stride, sw, sh, d int) []uint8 {
	w, h := (sw+d-1)/d, (sh+d-1)/d
	dst := make([]uint8, w*h)
	parallelRows(h, func(y0, y1 int) {
		cols := make([]uint16, sw) // d ≤ 255 rows of 255 fit
		for y := y0; y < y1; y++ {
			rows := min(d, sh-y*d)
			out := dst[y*w : y*w+w]
			if rows == d && d <= 4 {
				boxRows(out, src[y*d*stride:], stride, sw, d)
				continue
			}
			copyRow(cols, src[y*d*stride:y*d*stride+sw])
			for r := 1; r < rows; r++ {
				addRow(cols, src[(y*d+r)*stride:(y*d+r)*stride+sw])
			}
			boxSums(out[:w-1], cols, d, uint64(rows*d))
			last := cols[(w-1)*d:]
			var s uint64
			for _, v := range last {
				s += uint64(v)
			}
			n := uint64(rows * len(last))
			out[w-1] = uint8((s + n/2) / n)
		}
	})
	return dst
}

// boxSums writes the rounded mean of each run of d column sums, n
// samples each. The division is a multiply by r = ⌈2⁴⁰/n⌉: for a sum
// s ≤ 255n, (s+n/2)·r/2⁴⁰ exceeds (s+n/2)/n by less than 256n/2⁴⁰, below
// the 1/n that separates it from the next integer while n < 2¹⁶ (n is at
// most maxShrink², 4096), so the floor is exact (TestBoxMeanExact). d = 2,
// 3 and 4 are unrolled: a short loop of a varying count is what the branch
// predictor misses.
func boxSums(out []uint8, cols []uint16, d int, n uint64) {
	recip := (1<<40 + n - 1) / n
	half := n / 2
	mean := func(s uint64) uint8 { return uint8(((s + half) * recip) >> 40) }
	switch d {
	case 2:
		for x := range out {
			c := cols[2*x : 2*x+2 : 2*x+2]
			out[x] = mean(uint64(c[0]) + uint64(c[1]))
		}
	case 3:
		for x := range out {
			c := cols[3*x : 3*x+3 : 3*x+3]
			out[x] = mean(uint64(c[0]) + uint64(c[1]) + uint64(c[2]))
		}
	case 4:
		for x := range out {
			c := cols[4*x : 4*x+4 : 4*x+4]
			out[x] = mean(uint64(c[0]) + uint64(c[1]) + uint64(c[2]) + uint64(c[3]))
		}
	default:
		for x := range out {
			var s uint64
			for _, v := range cols[x*d : x*d+d] {
				s += uint64(v)
			}
			out[x] = mean(s)
		}
	}
}

func copyRow(dst []uint16, src []uint8) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = uint16(v)
	}
}

func addRow(dst []uint16, src []uint8) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] += uint16(v)
	}
}

// boxRows writes one row of means of full-height d×d boxes (d = 2, 3 or
// 4) straight from the d source rows at src, stride apart: one read of
// each byte and no column sums in between, about twice as fast as the
// general path for the common case. A partial box at the right edge
// (sw not a multiple of d) is averaged over the columns it has.
func boxRows(out []uint8, src []uint8, stride, sw, d int) {
	full := sw / d
	n := uint64(d * d)
	recip := (1<<40 + n - 1) / n
	half := n / 2
	r0 := src[:sw]
	r1 := src[stride : stride+sw]
	switch d {
	case 2:
		for x := range out[:full] {
			a, b := r0[2*x:2*x+2:2*x+2], r1[2*x:2*x+2:2*x+2]
			out[x] = uint8(((uint64(a[0]) + uint64(a[1]) + uint64(b[0]) + uint64(b[1]) + half) * recip) >> 40)
		}
	case 3:
		r2 := src[2*stride : 2*stride+sw]
		for x := range out[:full] {
			i := 3 * x
			a, b, c := r0[i:i+3:i+3], r1[i:i+3:i+3], r2[i:i+3:i+3]
			s := uint64(a[0]) + uint64(a[1]) + uint64(a[2]) + uint64(b[0]) + uint64(b[1]) + uint64(b[2]) + uint64(c[0]) + uint64(c[1]) + uint64(c[2])
			out[x] = uint8(((s + half) * recip) >> 40)
		}
	case 4:
		r2, r3 := src[2*stride:2*stride+sw], src[3*stride:3*stride+sw]
		for x := range out[:full] {
			i := 4 * x
			a, b, c, e := r0[i:i+4:i+4], r1[i:i+4:i+4], r2[i:i+4:i+4], r3[i:i+4:i+4]
			s := uint64(a[0]) + uint64(a[1]) + uint64(a[2]) + uint64(a[3]) + uint64(b[0]) + uint64(b[1]) + uint64(b[2]) + uint64(b[3]) +
				uint64(c[0]) + uint64(c[1]) + uint64(c[2]) + uint64(c[3]) + uint64(e[0]) + uint64(e[1]) + uint64(e[2]) + uint64(e[3])
			out[x] = uint8(((s + half) * recip) >> 40)
		}
	}
	if full == len(out) {
		return
	}
	var s uint64
	for r := range d {
		for _, v := range src[r*stride+full*d : r*stride+sw] {
			s += uint64(v)
		}
	}
	m := uint64(d * (sw - full*d))
	out[full] = uint8((s + m/2) / m)
}
