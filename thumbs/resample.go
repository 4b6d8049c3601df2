package thumbs

import (
	"image"
	"image/color"
	"math"
	"runtime"
	"sync"

	"github.com/disintegration/imaging"
)

// resizeOpaque is imaging.Resize for images without transparency (every
// JPEG), rewritten for speed the way Pillow and libvips do it: weights in
// 14-bit fixed point, no alpha weighting, rows walked in memory order in
// both passes, and a YCbCr source resampled plane by plane (chroma at its
// own resolution and kept there: a 4:2:0 source gives a 4:2:0 result,
// which the next cascade step resamples the same way and the JPEG encoder
// (which writes 4:2:0) takes without any colour conversion; a grey source
// gives grey; anything else NRGBA. Results stay within a few levels of
// imaging.Resize (TestResizeOpaqueMatchesImaging).
func resizeOpaque(src image.Image, w, h int, filter imaging.ResampleFilter) image.Image {
	b := src.Bounds()
	switch s := src.(type) {
	case *image.YCbCr:
		cb := s.COffset(b.Min.X, b.Min.Y)
		cw, ch := chromaSize(s)
		dst := &image.YCbCr{SubsampleRatio: s.SubsampleRatio, Rect: image.Rect(0, 0, w, h), YStride: w}
		dcw, dch := chromaSize(dst)
		dst.CStride = dcw
		dst.Y = resizePlane(s.Y[s.YOffset(b.Min.X, b.Min.Y):], s.YStride, b.Dx(), b.Dy(), w, h, filter)
		dst.Cb = resizePlane(s.Cb[cb:], s.CStride, cw, ch, dcw, dch, filter)
		dst.Cr = resizePlane(s.Cr[cb:], s.CStride, cw, ch, dcw, dch, filter)
		return dst
	case *image.Gray:
		g := resizePlane(s.Pix[s.PixOffset(b.Min.X, b.Min.Y):], s.Stride, b.Dx(), b.Dy(), w, h, filter)
		return &image.Gray{Pix: g, Stride: w, Rect: image.Rect(0, 0, w, h)}
	default:
		dst := image.NewNRGBA(image.Rect(0, 0, w, h))
		// Split into R, G and B planes.
		sw, sh := b.Dx(), b.Dy()
		var planes [3][]uint8
		for c := range planes {
			planes[c] = make([]uint8, sw*sh)
		}
		parallelRows(sh, func(y0, y1 int) {
			row := make([]uint8, sw*3)
			for y := y0; y < y1; y++ {
				rgbRow(src, b.Min.Y+y, row)
				for x := 0; x < sw; x++ {
					planes[0][y*sw+x], planes[1][y*sw+x], planes[2][y*sw+x] = row[x*3], row[x*3+1], row[x*3+2]
				}
			}
		})
		var out [3][]uint8
		for c := range planes {
			out[c] = resizePlane(planes[c], sw, sw, sh, w, h, filter)
		}
		for i := range out[0] {
			o := dst.Pix[i*4 : i*4+4 : i*4+4]
			o[0], o[1], o[2], o[3] = out[0][i], out[1][i], out[2][i], 255
		}
		return dst
	}
}

// chromaSize is the size of a YCbCr image's chroma planes.
func chromaSize(s *image.YCbCr) (int, int) {
	w, h := s.Rect.Dx(), s.Rect.Dy()
	switch s.SubsampleRatio {
	case image.YCbCrSubsampleRatio422:
		return (w + 1) / 2, h
	case image.YCbCrSubsampleRatio420:
		return (w + 1) / 2, (h + 1) / 2
	case image.YCbCrSubsampleRatio440:
		return w, (h + 1) / 2
	case image.YCbCrSubsampleRatio411:
		return (w + 3) / 4, h
	case image.YCbCrSubsampleRatio410:
		return (w + 3) / 4, (h + 1) / 2
	}
	return w, h
}

// resizePlane resamples one 8-bit plane of sw×sh (rows stride apart) to
// w×h, returned packed.
func resizePlane(src []uint8, stride, sw, sh, w, h int, filter imaging.ResampleFilter) []uint8 {
	hw := uniform(weights(w, sw, filter), sw)
	vw := weights(h, sh, filter)
	tmp := make([]uint8, sh*w)
	parallelRows(sh, func(y0, y1 int) {
		for y := y0; y < y1; y++ {
			horizontal(tmp[y*w:y*w+w], src[y*stride:y*stride+sw], hw)
		}
	})
	dst := make([]uint8, w*h)
	parallelRows(h, func(y0, y1 int) {
		acc := make([]int32, w)
		for y := y0; y < y1; y++ {
			clear(acc)
			wt := vw[y]
			for k, c := range wt.coef {
				in := tmp[(wt.start+k)*w : (wt.start+k+1)*w]
				in = in[:len(acc)]
				for x, v := range in {
					acc[x] += int32(v) * c
				}
			}
			out := dst[y*w : y*w+w]
			for x, a := range acc {
				out[x] = clampFixed(a)
			}
		}
	})
	return dst
}

// flatSpans are spans of one length n, their coefficients end to end:
// the horizontal pass then runs a loop of a fixed trip count, which the
// branch predictor learns, unrolled by four (2.3 → ~1 ns a tap).
type flatSpans struct {
	n      int
	starts []int
	coef   []int32
}

// uniform pads every span with zero weights to the longest one's length,
// keeping each inside [0, sw).
func uniform(spans []span, sw int) flatSpans {
	n := 0
	for _, s := range spans {
		n = max(n, len(s.coef))
	}
	n = min(n, sw)
	f := flatSpans{n: n, starts: make([]int, len(spans)), coef: make([]int32, len(spans)*n)}
	for i, s := range spans {
		start := min(s.start, sw-n)
		f.starts[i] = start
		copy(f.coef[i*n+s.start-start:], s.coef)
	}
	return f
}

// horizontal resamples one row.
func horizontal(out, row []uint8, f flatSpans) {
	n := f.n
	for x := range out {
		p := row[f.starts[x] : f.starts[x]+n]
		c := f.coef[x*n : x*n+n]
		c = c[:len(p)]
		var sum int32
		k := 0
		for ; k+4 <= len(p); k += 4 {
			sum += int32(p[k])*c[k] + int32(p[k+1])*c[k+1] + int32(p[k+2])*c[k+2] + int32(p[k+3])*c[k+3]
		}
		for ; k < len(p); k++ {
			sum += int32(p[k]) * c[k]
		}
		out[x] = clampFixed(sum)
	}
}

const fixedBits = 14

func clampFixed(v int32) uint8 {
	v = (v + 1<<(fixedBits-1)) >> fixedBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// span is one output pixel's weights over consecutive source pixels.
type span struct {
	start int
	coef  []int32
}

// weights computes the filter's contributions for resampling n source
// pixels to m, as imaging does (the kernel widened by the reduction
// ratio), then rounds them to fixed point summing to exactly 1.
func weights(m, n int, filter imaging.ResampleFilter) []span {
	scale := float64(n) / float64(m)
	du := math.Max(scale, 1)
	radius := math.Ceil(du * filter.Support)
	out := make([]span, m)
	for v := 0; v < m; v++ {
		fu := (float64(v)+0.5)*scale - 0.5
		lo := max(0, int(math.Ceil(fu-radius)))
		hi := min(n-1, int(math.Floor(fu+radius)))
		fw := make([]float64, 0, hi-lo+1)
		sum := 0.0
		for u := lo; u <= hi; u++ {
			k := filter.Kernel((float64(u) - fu) / du)
			fw = append(fw, k)
			sum += k
		}
		if sum == 0 { // no filter this package uses, but never divide by 0
			fw, sum, lo = []float64{1}, 1, min(max(0, int(math.Round(fu))), n-1)
		}
		coef := make([]int32, len(fw))
		total := int32(0)
		big := 0
		for i, k := range fw {
			coef[i] = int32(math.Round(k / sum * (1 << fixedBits)))
			total += coef[i]
			if coef[i] > coef[big] {
				big = i
			}
		}
		coef[big] += 1<<fixedBits - total // rounding slack to the centre
		// Taps of weight zero at either end (the kernel's zeros, which the
		// widened radius takes in, and weights that round to nothing) add
		// nothing but time: CatmullRom at a ratio near 1 has five taps of
		// weight, not seven.
		for len(coef) > 1 && coef[0] == 0 {
			coef, lo = coef[1:], lo+1
		}
		for len(coef) > 1 && coef[len(coef)-1] == 0 {
			coef = coef[:len(coef)-1]
		}
		out[v] = span{start: lo, coef: coef}
	}
	return out
}

// rgbRow writes row y of src as packed RGB.
func rgbRow(src image.Image, y int, row []uint8) {
	b := src.Bounds()
	switch s := src.(type) {
	case *image.YCbCr:
		yi := s.YOffset(b.Min.X, y)
		for x := 0; x < b.Dx(); x++ {
			ci := s.COffset(b.Min.X+x, y)
			r, g, bl := color.YCbCrToRGB(s.Y[yi+x], s.Cb[ci], s.Cr[ci])
			row[x*3], row[x*3+1], row[x*3+2] = r, g, bl
		}
	case *image.Gray:
		pix := s.Pix[s.PixOffset(b.Min.X, y):]
		for x := 0; x < b.Dx(); x++ {
			row[x*3], row[x*3+1], row[x*3+2] = pix[x], pix[x], pix[x]
		}
	case *image.NRGBA:
		pix := s.Pix[s.PixOffset(b.Min.X, y):]
		for x := 0; x < b.Dx(); x++ {
			row[x*3], row[x*3+1], row[x*3+2] = pix[x*4], pix[x*4+1], pix[x*4+2]
		}
	case *image.RGBA:
		pix := s.Pix[s.PixOffset(b.Min.X, y):]
		for x := 0; x < b.Dx(); x++ {
			row[x*3], row[x*3+1], row[x*3+2] = pix[x*4], pix[x*4+1], pix[x*4+2]
		}
	default: // CMYK JPEGs, rare
		for x := 0; x < b.Dx(); x++ {
			c := color.NRGBAModel.Convert(src.At(b.Min.X+x, y)).(color.NRGBA)
			row[x*3], row[x*3+1], row[x*3+2] = c.R, c.G, c.B
		}
	}
}

// parallelRows splits [0, n) into one contiguous band per CPU.
func parallelRows(n int, f func(y0, y1 int)) {
	procs := min(runtime.GOMAXPROCS(0), n)
	if procs <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for p := 0; p < procs; p++ {
		y0, y1 := n*p/procs, n*(p+1)/procs
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(y0, y1)
		}()
	}
	wg.Wait()
}
