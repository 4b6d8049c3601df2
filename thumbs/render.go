package thumbs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"slices"
	"sync"

	"github.com/disintegration/imaging"
)

// Filters chosen by BenchmarkFilters (bench_test.go), which scores each
// against a float Lanczos-3 resize of the full-size decode, on the 12 MP
// test photo (2 cores, numbers in the benchmark's report):
//
//   - firstFilter takes the load-shrunk image (2000×1500) to 1280 px:
//     CatmullRom 46.8 dB in 43 ms, Lanczos 46.8 dB in 56 ms, Linear 45.0,
//     Box 40.5. Decoding at full size instead would add ~3.5 dB (invisible
//     above 40) for ~190 ms more.
//   - cascadeFilter takes 1280 → 640 → 320: Lanczos 49.0/49.5 dB in 44 ms,
//     CatmullRom 46.3/41.1 dB in 29 ms, Box 42.0/39.4 dB in 12 ms. The
//     320 px thumbnail is the most viewed, so the 15 ms buy Lanczos. (The
//     reference favours Lanczos-like kernels, which is why first-step
//     scores, where the two tie, were the fairer test of CatmullRom.)
var (
	firstFilter   = imaging.CatmullRom
	cascadeFilter = imaging.Lanczos
)

// step is one thumbnail to make, in displayed pixels.
type step struct {
	width, height int
}

// plan lists the thumbnails for an image, largest first: every configured
// width below the displayed width, each at least 1 px high.
func (m *Maker) plan(h header) []step {
	d := h.displayed()
	var steps []step
	for _, w := range m.widths {
		if w >= d.Width {
			continue
		}
		ht := int(math.Round(float64(w) * float64(d.Height) / float64(d.Width)))
		steps = append(steps, step{width: w, height: max(ht, 1)})
	}
	return steps
}

// render decodes once and cascades the resizes, largest first, each from
// the previous result. Resizing happens in stored orientation and only
// the small results are turned, and each thumbnail is encoded on its own
// goroutine while the next one is resized.
func (m *Maker) render(ctx context.Context, path string, h header, plan []step) ([]Thumbnail, error) {
	tr := Transposes(h.orientation)
	var icc []byte
	if h.format.jpegOut {
		icc = jpegICC(path)
	}
	tw, th := plan[0].width, plan[0].height
	if tr {
		tw, th = th, tw
	}
	src, err := decode(path, h.format, shrinkFactor(h.width, h.height, tw, th))
	if err != nil {
		return nil, err
	}

	out := make([]Thumbnail, len(plan))
	errs := make([]error, len(plan))
	var wg sync.WaitGroup
	prev := src
	filter := firstFilter
	for i, s := range plan {
		if err := ctx.Err(); err != nil {
			errs[i] = err
			break
		}
		w, ht := s.width, s.height
		if tr {
			w, ht = ht, w
		}
		var small image.Image
		if h.format.jpegOut {
			small = resizeOpaque(prev, w, ht, filter)
		} else {
			small = imaging.Resize(prev, w, ht, filter)
		}
		prev, filter = small, cascadeFilter
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = m.write(orient(small, h.orientation), h.format.jpegOut, icc)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, t := range out {
			if t.Path != "" {
				os.Remove(t.Path)
			}
		}
		return nil, fmt.Errorf("thumbnail %s: %w", path, err)
	}
	slices.Reverse(out)
	return out, nil
}

// write encodes img to a new file in the temp dir; a JPEG carries the
// source's colour profile icc (nil for none).
func (m *Maker) write(img image.Image, asJPEG bool, icc []byte) (Thumbnail, error) {
	b := img.Bounds()
	t := Thumbnail{Size: Size{Width: b.Dx(), Height: b.Dy()}, Ext: "png", Type: "image/png"}
	if asJPEG {
		t.Ext, t.Type = "jpg", "image/jpeg"
	}
	f, err := os.CreateTemp(m.tempDir, fmt.Sprintf("thumb-*-%dw.%s", t.Width, t.Ext))
	if err != nil {
		return Thumbnail{}, fmt.Errorf("create: %w", err)
	}
	if asJPEG {
		var buf bytes.Buffer
		if err = jpeg.Encode(&buf, opaqueRGBA(img), &jpeg.Options{Quality: m.quality}); err == nil {
			err = withICC(f, buf.Bytes(), icc)
		}
	} else {
		err = png.Encode(f, img)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return Thumbnail{}, fmt.Errorf("encode %s: %w", f.Name(), err)
	}
	t.Path = f.Name()
	return t, nil
}

// opaqueRGBA presents an NRGBA image from a JPEG source (a turned
// thumbnail) as RGBA, which the JPEG encoder reads on its fast path instead
// of pixel by pixel through At. The two layouts are the same when every
// pixel is opaque, as a JPEG source's always are. YCbCr and grey images
// are already on fast paths.
func opaqueRGBA(img image.Image) image.Image {
	n, ok := img.(*image.NRGBA)
	if !ok {
		return img
	}
	return &image.RGBA{Pix: n.Pix, Stride: n.Stride, Rect: n.Rect}
}
