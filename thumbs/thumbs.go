// Package thumbs checks uploaded images and makes their thumbnails.
//
// Every image is looked at twice. Probe reads only the header
// (image.DecodeConfig and the EXIF orientation) so that an image claiming
// more than Options.MaxPixels, or one no allowlisted decoder accepts, is
// refused before a single pixel is allocated. Make then decodes the image
// once, under a semaphore that bounds how many decodes hold memory at the
// same time, and writes a thumbnail for every configured width smaller than
// the image as displayed (after EXIF orientation).
//
// Only JPEG, PNG, GIF and WebP are decoded, each with its own decoder picked
// by the sniffed MIME type, never through image.Decode's registry (which
// would also accept BMP and TIFF, registered by the imaging package).
package thumbs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
)

// ErrTooManyPixels reports an image whose header claims more than
// Options.MaxPixels pixels. It is refused before decoding: a small file can
// claim a size whose decoding would exhaust memory. Upstream maps it to 422.
var ErrTooManyPixels = errors.New("image has too many pixels")

// ErrUndecodable reports an image that its format's decoder rejects:
// truncated, corrupt, or not of the type it was sniffed as. Upstream maps
// it to 422; every other error from this package is a server fault.
var ErrUndecodable = errors.New("image cannot be decoded")

// defaultQuality is thumbnails.quality's default in SPEC.md, used when
// Options.Quality is zero.
const defaultQuality = 82

// Options configures a Maker. It mirrors the thumbnails.* config keys.
type Options struct {
	// Widths are the thumbnail widths in pixels (thumbnails.widths); empty
	// means no thumbnails. Order and duplicates do not matter.
	Widths []int
	// Quality is the JPEG quality of thumbnails of JPEG sources, 1–100;
	// zero means 82.
	Quality int
	// MaxPixels is the largest width×height accepted; it must be positive.
	MaxPixels int64
	// MaxDecodes bounds how many images are decoded at the same time, and
	// so the memory that decoding holds; 0 means runtime.NumCPU().
	MaxDecodes int
	// TempDir is where thumbnail files are written; empty means
	// os.TempDir(). It should be on the same file system as the
	// repository's work area so that callers can rename instead of copy.
	TempDir string
}

// Maker checks images and makes thumbnails. It is safe for concurrent use.
type Maker struct {
	widths  []int // distinct, descending, so that resizes can cascade
	quality int
	max     int64
	tempDir string
	sem     chan struct{}
}

// Size is an image's size as displayed, after EXIF orientation.
type Size struct {
	Width, Height int
}

// Image is what Make learned and made: the displayed size of the source
// and its thumbnails.
type Image struct {
	Size
	// Thumbnails are sorted by width, ascending; empty when every
	// configured width is at least the image's width.
	Thumbnails []Thumbnail
}

// Thumbnail is one generated thumbnail file.
type Thumbnail struct {
	Size
	// Path is a new file in Options.TempDir; the caller moves or removes it.
	Path string
	// Ext is the file extension without the dot: "jpg" or "png".
	Ext string
	// Type is the MIME type: "image/jpeg" or "image/png".
	Type string
}

// New checks opts and returns a Maker.
func New(opts Options) (*Maker, error) {
	m := &Maker{quality: opts.Quality, max: opts.MaxPixels, tempDir: opts.TempDir}
	for _, w := range opts.Widths {
		if w <= 0 {
			return nil, fmt.Errorf("thumbs: width %d is not positive", w)
		}
		if !slices.Contains(m.widths, w) {
			m.widths = append(m.widths, w)
		}
	}
	slices.Sort(m.widths)
	slices.Reverse(m.widths)
	if m.quality == 0 {
		m.quality = defaultQuality
	}
	if m.quality < 1 || m.quality > 100 {
		return nil, fmt.Errorf("thumbs: quality %d is outside 1–100", opts.Quality)
	}
	if m.max <= 0 {
		return nil, fmt.Errorf("thumbs: max pixels %d is not positive", opts.MaxPixels)
	}
	n := opts.MaxDecodes
	if n < 0 {
		return nil, fmt.Errorf("thumbs: max decodes %d is negative", n)
	}
	if n == 0 {
		n = runtime.NumCPU()
	}
	m.sem = make(chan struct{}, n)
	if m.tempDir == "" {
		m.tempDir = os.TempDir()
	}
	return m, nil
}

// IsImage reports whether mimeType is one of the image types this package
// decodes: image/jpeg, image/png, image/gif and image/webp. Other uploads
// (video, audio) are stored without probing or thumbnails.
func IsImage(mimeType string) bool {
	_, ok := formats[mimeType]
	return ok
}

// Probe reads only the header of the image at path and returns its size as
// displayed: width and height are swapped for EXIF orientations 5–8. It
// returns ErrTooManyPixels or ErrUndecodable (wrapped) for images to refuse.
func (m *Maker) Probe(ctx context.Context, path, mimeType string) (Size, error) {
	h, err := m.probe(ctx, path, mimeType)
	if err != nil {
		return Size{}, err
	}
	return h.displayed(), nil
}

// Make probes the image at path and, if any configured width is smaller
// than its displayed width, decodes it once, applies its EXIF orientation
// and writes one thumbnail per such width to a new file in Options.TempDir.
// JPEG sources give JPEG thumbnails, others PNG; an animated GIF gives
// thumbnails of its first frame. The source file is never modified. On
// error no thumbnail file is left behind.
func (m *Maker) Make(ctx context.Context, path, mimeType string) (Image, error) {
	h, err := m.probe(ctx, path, mimeType)
	if err != nil {
		return Image{}, err
	}
	img := Image{Size: h.displayed()}
	plan := m.plan(h)
	if err := m.acquire(ctx); err != nil {
		return Image{}, fmt.Errorf("wait to decode %s: %w", path, err)
	}
	defer m.release()
	if len(plan) == 0 {
		// No thumbnail to make, but a truncated or corrupt image must
		// still be refused, not published: decode it (JPEG at 1/8 scale,
		// which still reads every scan).
		if _, err := decode(path, h.format, 8); err != nil {
			return Image{}, err
		}
		return img, nil
	}
	thumbs, err := m.render(ctx, path, h, plan)
	if err != nil {
		return Image{}, err
	}
	img.Thumbnails = thumbs
	return img, nil
}

// acquire takes a decode slot, giving up when ctx ends first.
func (m *Maker) acquire(ctx context.Context) error {
	select {
	case m.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *Maker) release() { <-m.sem }
