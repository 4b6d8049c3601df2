// Package thumbs checks uploaded images and makes their thumbnails.
//
// Every image is first walked without decoding (probe): its header gives
// the size, which must not exceed Options.MaxPixels; a walk of its whole
// structure (JPEG segments and scans to EOI, PNG chunks and CRCs to IEND,
// GIF blocks to the trailer, WebP's RIFF chunks, AVIF's boxes) proves it
// is what it claims and not truncated, estimates what decoding it would
// cost, refuses decode bombs (a JPEG with more than 100 scans, a decode
// needing more memory than MaxPixels allow, metadata that inflates
// without end) and runs the markup check on every metadata block. An
// image that needs no thumbnail is never decoded. For the others Make
// decodes once, under a memory budget shared by all concurrent decodes,
// and writes a thumbnail per configured width smaller than the image as
// displayed (after EXIF orientation) and per configured format.
//
// Only JPEG, PNG, GIF, WebP and AVIF are decoded, each with its own decoder
// picked by the sniffed MIME type, never through image.Decode's registry
// (which would also accept BMP and TIFF, registered by the imaging
// package).
package thumbs

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"

	"golang.org/x/sync/semaphore"
)

// ErrTooManyPixels reports an image whose header claims more than
// Options.MaxPixels pixels. It is refused before decoding: a small file can
// claim a size whose decoding would exhaust memory. Upstream maps it to 422.
var ErrTooManyPixels = errors.New("image has too many pixels")

// ErrUndecodable reports an image that its format's decoder rejects:
// truncated, corrupt, or not of the type it was sniffed as. Upstream maps
// it to 422; every other error from this package is a server fault.
var ErrUndecodable = errors.New("image cannot be decoded")

// defaultDecodeMemory is Options.DecodeMemory's default: one 12 MP JPEG
// decode (about 22 MB) at a time, two of 8 MP, so that eight concurrent
// uploads of phone photos peak at about 70 MiB of RSS; at 48 MiB (two 12
// MP decodes) they peaked at 97 MiB, the garbage collector's headroom
// doubling the live heap (BENCHMARKS.md).
const defaultDecodeMemory = 32 << 20

// defaultQuality is thumbnails.quality's default in SPEC.md, used when
// Options.Quality is zero.
const defaultQuality = 82

// Options configures a Maker. It mirrors the thumbnails.* config keys.
type Options struct {
	// Widths are the thumbnail widths in pixels (thumbnails.widths); empty
	// means no thumbnails. Order and duplicates do not matter.
	Widths []int
	// Formats are the thumbnail formats (thumbnails.formats): FormatSame,
	// FormatWebP, FormatAVIF; each width is made in each. Empty means
	// [FormatSame].
	Formats []string
	// Quality is the JPEG and WebP quality of thumbnails, 1–100; zero
	// means 82.
	Quality int
	// MaxPixels is the largest width×height accepted; it must be positive.
	MaxPixels int64
	// MaxDecodes bounds how many images are decoded at the same time;
	// 0 means runtime.NumCPU().
	MaxDecodes int
	// DecodeMemory is the memory budget, in bytes, that all concurrent
	// decodes share (estimated from each image's header and format);
	// 0 means 32 MiB. A decode that needs more than the whole budget
	// waits until it has the budget to itself.
	DecodeMemory int64
}

// Maker checks images and makes thumbnails. It is safe for concurrent use.
type Maker struct {
	widths  []int // distinct, descending, so that resizes can cascade
	formats []string
	quality int
	max     int64
	sem     chan struct{}
	mem     *semaphore.Weighted
	memCap  int64
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

// Thumbnail is one generated thumbnail: its encoded bytes, kept in
// memory (a 1280 px thumbnail is a few hundred kilobytes; the repository
// packs such small files without writing them on their own).
type Thumbnail struct {
	Size
	Data []byte
	// Ext is the file extension without the dot: "jpg", "png", "webp"
	// or "avif".
	Ext string
	// Type is the MIME type: "image/jpeg", "image/png", "image/webp" or
	// "image/avif".
	Type string
}

// New checks opts and returns a Maker.
func New(opts Options) (*Maker, error) {
	m := &Maker{quality: opts.Quality, max: opts.MaxPixels}
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
	m.memCap = opts.DecodeMemory
	if m.memCap < 0 {
		return nil, fmt.Errorf("thumbs: decode memory %d is negative", m.memCap)
	}
	if m.memCap == 0 {
		m.memCap = defaultDecodeMemory
	}
	m.mem = semaphore.NewWeighted(m.memCap)
	for _, f := range opts.Formats {
		if f != FormatSame && f != FormatWebP && f != FormatAVIF {
			return nil, fmt.Errorf("thumbs: format %q is none of same, webp, avif", f)
		}
		if !slices.Contains(m.formats, f) {
			m.formats = append(m.formats, f)
		}
	}
	if len(m.formats) == 0 {
		m.formats = []string{FormatSame}
	}
	return m, nil
}

// IsImage reports whether mimeType is one of the image types this package
// decodes: image/jpeg, image/png, image/gif, image/webp and image/avif
// (HEIC is converted to JPEG before it gets here). Other uploads
// (video, audio) are stored without probing or thumbnails.
func IsImage(mimeType string) bool {
	_, ok := formats[mimeType]
	return ok
}

// Probe checks the image at path without decoding it (its header, its
// whole structure and its metadata; see the package doc) and returns its
// size as displayed: width and height are swapped for EXIF orientations
// 5–8. It returns ErrTooManyPixels, ErrUndecodable or ErrMarkup (wrapped)
// for images to refuse.
func (m *Maker) Probe(ctx context.Context, path, mimeType string) (Size, error) {
	h, err := m.probe(ctx, path, mimeType)
	if err != nil {
		return Size{}, err
	}
	return h.displayed(), nil
}

// Make probes the image at path and, if any configured width is smaller
// than its displayed width, decodes it once (stopping when ctx is done),
// applies its EXIF orientation and encodes one thumbnail per such width and
// configured format. An animated GIF gives thumbnails of its first frame.
// When no thumbnail is due the image is not decoded: Probe's checks are
// all it gets. The source file is never modified.
func (m *Maker) Make(ctx context.Context, path, mimeType string) (Image, error) {
	h, err := m.probe(ctx, path, mimeType)
	if err != nil {
		return Image{}, err
	}
	img := Image{Size: h.displayed()}
	plan := m.plan(h)
	if len(plan) == 0 {
		return img, nil
	}
	release, err := m.acquire(ctx, h.cost)
	if err != nil {
		return Image{}, fmt.Errorf("wait to decode %s: %w", path, err)
	}
	defer release()
	thumbs, err := m.render(ctx, path, h, plan)
	if err != nil {
		return Image{}, err
	}
	img.Thumbnails = thumbs
	return img, nil
}

// acquire takes a decode slot and cost bytes of the memory budget (all of
// it when cost is more), giving up when ctx ends first.
func (m *Maker) acquire(ctx context.Context, cost int64) (func(), error) {
	select {
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	cost = max(1, min(cost, m.memCap))
	if err := m.mem.Acquire(ctx, cost); err != nil {
		<-m.sem
		return nil, err
	}
	return func() {
		m.mem.Release(cost)
		<-m.sem
	}, nil
}
