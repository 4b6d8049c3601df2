package thumbs

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"spano/internal/testphoto"
	"testing"
	"time"

	"github.com/disintegration/imaging"
)

// benchPhoto lets bench/thumbs/run.sh hand the Go benchmark the very file
// it gives sharp; without it the benchmark paints its own.
var benchPhoto = flag.String("photo", "", "JPEG to benchmark with (default: a generated 4000×3000 photo)")

// photoJPEG returns the benchmark photo: the -photo file, or a 4000×3000
// photo-like JPEG (gradients, fine texture and sensor-like noise at quality
// 90, about 3.9 MB, which decodes like a phone photo rather than a flat
// test card). internal/testphoto paints it.
func photoJPEG(b *testing.B) []byte {
	b.Helper()
	if *benchPhoto != "" {
		data, err := os.ReadFile(*benchPhoto)
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	w, h := 4000, 3000
	img := testphoto.Paint(w, h)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkMake times Make on a 12 MP JPEG with the default widths and
// reports the median, the number compared with sharp in BENCHMARKS.md.
// The stdlib decode of the same file runs alongside as the baseline.
func BenchmarkMake(b *testing.B) {
	data := photoJPEG(b)
	src := filepath.Join(b.TempDir(), "photo.jpg")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Run("thumbs.Make/320,640,1280", func(b *testing.B) {
		m, err := New(Options{Widths: []int{320, 640, 1280}, Quality: 82, MaxPixels: 50_000_000})
		if err != nil {
			b.Fatal(err)
		}
		timed(b, func() {
			if _, err := m.Make(context.Background(), src, "image/jpeg"); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("baseline/image-jpeg.Decode", func(b *testing.B) {
		// The standard library's decode alone, for scale.
		timed(b, func() {
			if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("baseline/imaging.Open+3×Resize(Lanczos)", func(b *testing.B) {
		// The straightforward use of imaging: auto-orienting decode, then
		// each width from the full image.
		timed(b, func() {
			img, err := imaging.Open(src, imaging.AutoOrientation(true))
			if err != nil {
				b.Fatal(err)
			}
			for _, w := range []int{1280, 640, 320} {
				imaging.Resize(img, w, 0, imaging.Lanczos)
			}
		})
	})
}

// timed runs f b.N times and reports the median and 90th percentile.
func timed(b *testing.B, f func()) {
	b.Helper()
	var d []time.Duration
	cpu := cpuTime()
	for b.Loop() {
		t := time.Now()
		f()
		d = append(d, time.Since(t))
	}
	cpu = cpuTime() - cpu
	slices.Sort(d)
	ms := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(ms(0.5), "p50-ms")
	b.ReportMetric(ms(0.9), "p90-ms")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(d)), "cpu-ms/op")
}

// BenchmarkFilters is the measurement behind firstFilter and
// cascadeFilter. The reference for each width is the full-size decode
// resized directly with Lanczos-3 (imaging computes in float64); each
// candidate reports its time and its PSNR against that reference (higher
// is closer; above ~40 dB differences are invisible).
//
//   - decode: the standard library's decode alone.
//   - shrink/d=N: the decoded planes box-shrunk by N (shrink).
//   - first/d=N/FILTER: from that, FILTER to 1280 px.
//   - cascade/FILTER: 1280 → 640 → 320 from the chosen first step.
func BenchmarkFilters(b *testing.B) {
	data := photoJPEG(b)
	full, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	ref := map[int]*image.NRGBA{}
	for _, w := range []int{1280, 640, 320} {
		ref[w] = imaging.Resize(full, w, w*3/4, imaging.Lanczos)
	}
	filters := []struct {
		name string
		f    imaging.ResampleFilter
	}{
		{"Box", imaging.Box},
		{"Linear", imaging.Linear},
		{"MitchellNetravali", imaging.MitchellNetravali},
		{"CatmullRom", imaging.CatmullRom},
		{"Lanczos", imaging.Lanczos},
	}
	b.Run("decode", func(b *testing.B) {
		timed(b, func() {
			if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		})
	})
	for _, d := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("shrink/d=%d", d), func(b *testing.B) {
			timed(b, func() { shrink(full, d) })
		})
		src := shrink(full, d)
		for _, f := range filters {
			b.Run(fmt.Sprintf("first/d=%d/%s", d, f.name), func(b *testing.B) {
				var out image.Image
				timed(b, func() { out = resizeOpaque(src, 1280, 960, f.f) })
				b.ReportMetric(psnr(imaging.Clone(out), ref[1280]), "dB")
			})
		}
	}
	first := resizeOpaque(shrink(full, shrinkFactor(4000, 3000, 1280, 960)), 1280, 960, firstFilter)
	for _, f := range filters {
		b.Run("cascade/"+f.name, func(b *testing.B) {
			var w640, w320 image.Image
			timed(b, func() {
				w640 = resizeOpaque(first, 640, 480, f.f)
				w320 = resizeOpaque(w640, 320, 240, f.f)
			})
			b.ReportMetric(psnr(imaging.Clone(w640), ref[640]), "dB640")
			b.ReportMetric(psnr(imaging.Clone(w320), ref[320]), "dB320")
		})
	}
}

// psnr compares the RGB channels of two same-size images.
func psnr(a, b *image.NRGBA) float64 {
	if a.Rect != b.Rect {
		panic("psnr: sizes differ")
	}
	var sum float64
	var n int
	for i := range a.Pix {
		if i%4 == 3 {
			continue
		}
		d := float64(a.Pix[i]) - float64(b.Pix[i])
		sum += d * d
		n++
	}
	if sum == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(sum/float64(n)))
}

// maskedPNG is a 640×480 opaque PNG of the test photo with its colours
// cut by mask: 0x80 leaves two levels a channel, 27 KB, as few colours
// as a screenshot has (the image bench/upload/push.sh uploads); 0xff
// leaves the photo.
func maskedPNG(b *testing.B, mask uint8) []byte {
	b.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, testphoto.Cut(640, 480, mask)); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkMakePNG times Make on an opaque 640×480 PNG (one 320 px PNG
// thumbnail), against the straightforward decode, imaging.Resize and
// png.Encode, and reports the thumbnail's size.
func BenchmarkMakePNG(b *testing.B) {
	data := maskedPNG(b, 0x80)
	src := filepath.Join(b.TempDir(), "screen.png")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Run("thumbs.Make/320", func(b *testing.B) {
		m, err := New(Options{Widths: []int{320}, Quality: 82, MaxPixels: 50_000_000})
		if err != nil {
			b.Fatal(err)
		}
		var size int64
		timed(b, func() {
			img, err := m.Make(context.Background(), src, "image/png")
			if err != nil || len(img.Thumbnails) != 1 {
				b.Fatal(img, err)
			}
			size = int64(len(img.Thumbnails[0].Data))
		})
		b.ReportMetric(float64(size), "thumb-bytes")
	})
	b.Run("baseline/png.Decode+imaging.Resize+png.Encode", func(b *testing.B) {
		var size int
		timed(b, func() {
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			var buf bytes.Buffer
			if err := png.Encode(&buf, imaging.Resize(img, 320, 0, imaging.Lanczos)); err != nil {
				b.Fatal(err)
			}
			size = buf.Len()
		})
		b.ReportMetric(float64(size), "thumb-bytes")
	})
}
