package thumbs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"slices"
	"sync"

	"github.com/disintegration/imaging"
	"github.com/gen2brain/avif"
	"github.com/gen2brain/webp"
)

// Filters chosen by BenchmarkFilters (bench_test.go), which scores each
// against a float Lanczos-3 resize of the full-size decode, on the 12 MP
// test photo (PSNR of the 4:2:0 result; CPU per op, 2 shared cores):
//
//   - firstFilter takes the box-shrunk decode to 1280 px. Shrinking by 3
//     (to 1334×1000) and CatmullRom: 37.4 dB for 33 + 39 ms; by 2 (to
//     2000×1500, libvips' choice): 41.6 dB for 64 + 69 ms. The 4 dB buy
//     back half the time after the decode, and 37 dB shows no aliasing on
//     the photo's fine texture at 1280 px; Lanczos scores no higher.
//   - cascadeFilter takes 1280 → 640 → 320: CatmullRom 35.7/36.5 dB in
//     31 ms, Lanczos 35.8/37.0 in 48 ms, Box 35.5/35.8 in 10 ms.
var (
	firstFilter   = imaging.CatmullRom
	cascadeFilter = imaging.CatmullRom
)

// The thumbnail formats of Options.Formats.
const (
	// FormatSame is JPEG for opaque photos (JPEG, AVIF, lossy WebP
	// without alpha), PNG for images with alpha or lossless ones (PNG,
	// GIF, lossless WebP, an AVIF with transparent pixels).
	FormatSame = "same"
	// FormatWebP is lossy WebP at Options.Quality (with alpha where the
	// source has it).
	FormatWebP = "webp"
	// FormatAVIF is AVIF at avif.DefaultQuality and the fastest speed.
	FormatAVIF = "avif"
)

// step is one thumbnail size to make, in displayed pixels.
type step struct {
	width, height int
}

// plan lists the thumbnail sizes for an image, largest first: every
// configured width below the displayed width, each at least 1 px high.
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
// the small results are turned; each thumbnail is encoded, in every
// format, on its own goroutine while the next size is resized.
func (m *Maker) render(ctx context.Context, path string, h header, plan []step) ([]Thumbnail, error) {
	tr := Transposes(h.orientation)
	tw, th := plan[0].width, plan[0].height
	if tr {
		tw, th = th, tw
	}
	src, err := decode(ctx, path, h.format, shrinkFactor(h.width, h.height, tw, th))
	if err != nil {
		return nil, err
	}
	if o, ok := src.(interface{ Opaque() bool }); h.photo && h.format.name == "avif" && ok && !o.Opaque() {
		h.photo = false // an AVIF with transparency: PNG, not JPEG
	}
	out := make([]Thumbnail, len(plan)*len(m.formats))
	errs := make([]error, len(out))
	var wg sync.WaitGroup
	prev, filter := src, firstFilter
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
		if h.photo {
			small = resizeOpaque(prev, w, ht, filter)
		} else {
			small = imaging.Resize(prev, w, ht, filter)
		}
		prev, filter = small, cascadeFilter
		turned := orient(small, h.orientation)
		for j, f := range m.formats {
			k := i*len(m.formats) + j
			wg.Go(func() { out[k], errs[k] = m.write(turned, f, h) })
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("thumbnail %s: %w", path, err)
	}
	slices.SortStableFunc(out, func(a, b Thumbnail) int { return a.Width - b.Width })
	return out, nil
}

// write encodes img in format f and checks the encoded bytes for markup.
// A JPEG carries the source's colour profile.
func (m *Maker) write(img image.Image, f string, h header) (Thumbnail, error) {
	b := img.Bounds()
	t := Thumbnail{Size: Size{Width: b.Dx(), Height: b.Dy()}}
	var buf bytes.Buffer
	var err error
	switch {
	case f == FormatWebP:
		t.Ext, t.Type = "webp", "image/webp"
		err = webp.Encode(&buf, img, webp.Options{Quality: m.quality, Method: webp.DefaultMethod})
	case f == FormatAVIF:
		t.Ext, t.Type = "avif", "image/avif"
		err = avif.Encode(&buf, img, avif.Options{Quality: avif.DefaultQuality, QualityAlpha: avif.DefaultQuality, Speed: 10})
	case h.photo:
		t.Ext, t.Type = "jpg", "image/jpeg"
		var jpg bytes.Buffer
		if err = encodeJPEG(&jpg, opaqueRGBA(img), m.quality); err == nil {
			err = withICC(&buf, jpg.Bytes(), h.icc)
		}
	default:
		t.Ext, t.Type = "png", "image/png"
		err = encodePNG(&buf, img)
	}
	if err != nil {
		return Thumbnail{}, fmt.Errorf("encode %s: %w", t.Ext, err)
	}
	if err := checkMarkup("thumbnail", buf.Bytes()); err != nil {
		return Thumbnail{}, err
	}
	t.Data = buf.Bytes()
	return t, nil
}

// opaqueRGBA presents an NRGBA image from an opaque source (a turned
// thumbnail) as RGBA, which the JPEG encoder reads on its fast path instead
// of pixel by pixel through At. The two layouts are the same when every
// pixel is opaque. YCbCr and grey images are already on fast paths.
func opaqueRGBA(img image.Image) image.Image {
	n, ok := img.(*image.NRGBA)
	if !ok {
		return img
	}
	return &image.RGBA{Pix: n.Pix, Stride: n.Stride, Rect: n.Rect}
}
