// Package heic turns an uploaded HEIC or HEIF image into the JPEG that is
// published in its place: browsers other than Safari cannot show HEIC.
//
// The JPEG's pixels are upright as the HEIF transforms say (irot, imir,
// clap: applied by libheif while decoding), its EXIF is the HEIC's with
// every Orientation set to 1, so that nothing turns the picture twice
// (HEIF readers ignore EXIF orientation, JPEG readers obey it), and GPS
// removed by gpsstrip, the one owner of what counts as location; its ICC
// colour profile is the HEIC's. XMP is not carried over. Metadata that
// holds markup (hashstore.FindMarkup) is left out.
//
// The same HEIC gives the same JPEG bytes on the same build: decoding is
// exact and Go's JPEG encoder is deterministic. The decoder is
// github.com/gen2brain/heic: libheif and libde265 compiled to WASM and
// run by wazero (pure Go), or the system's libheif.so when it is
// installed (Debian: libheif-dev provides that name), loaded without cgo.
// The two may round differently, so "same build" includes the system
// library; the build tag nodynamic keeps to WASM.
//
// Decoding is bounded before it starts: the primary image's size (its
// ispe property) must not pass Options.MaxPixels, nor may any image item
// the file declares (tiles of a grid, thumbnails). The decoder reads the
// whole file into memory, so the upload size limit bounds that too, and a
// Converter runs only Options.Parallel conversions at once: under WASM
// one 12 MP conversion peaks at a few hundred MB.
package heic

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"os"

	"spano/gpsstrip"
	"spano/hashstore"

	heif "github.com/gen2brain/heic"
)

// Defaults for zero Options fields.
const (
	// DefaultMaxPixels is the default of thumbnails.max_pixels.
	DefaultMaxPixels = 50_000_000
	// DefaultQuality keeps the converted original close to the HEIC:
	// it is the published image, not a thumbnail.
	DefaultQuality = 90
)

// minWASMWidth is the narrowest image the WASM decoder returns intact:
// gen2brain/heic v0.4.5 copies planes with libheif's strides, which are at
// least 64 bytes, but reads them back with strides of the width rounded
// up to 16, so a chroma plane narrower than 64 comes back scrambled (or
// the copy runs out of the WASM memory). Narrower images are refused
// unless the system's libheif decodes them.
const minWASMWidth = 128

// Errors a server maps to 422: the upload is an image we will not turn
// into a JPEG. Test with errors.Is.
var (
	ErrUndecodable   = errors.New("heic: cannot decode image")
	ErrTooManyPixels = errors.New("heic: image has too many pixels")
)

// Options bounds and tunes conversions. Zero fields take the defaults.
type Options struct {
	MaxPixels int64 // refuse images with more pixels (thumbnails.max_pixels)
	Quality   int   // JPEG quality, 1–100
	// Parallel is how many conversions run at once (default 1): one 12 MP
	// conversion peaked at 371 MB of RSS under WASM, 106 MB with the
	// system libheif.
	Parallel int
}

// Converter converts HEIC files, a bounded number at a time.
type Converter struct {
	opts  Options
	slots chan struct{}
}

// New returns a Converter with opts, zero fields set to the defaults.
func New(opts Options) *Converter {
	if opts.MaxPixels <= 0 {
		opts.MaxPixels = DefaultMaxPixels
	}
	if opts.Quality <= 0 || opts.Quality > 100 {
		opts.Quality = DefaultQuality
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 1
	}
	return &Converter{opts: opts, slots: make(chan struct{}, opts.Parallel)}
}

// Result describes the JPEG that Convert wrote.
type Result struct {
	Path          string // the JPEG, in dstDir; the caller owns it
	Width, Height int    // as displayed: upright
	Size          int64
	SHA256        string // hex of the JPEG's bytes, as stored
	ICC           bool   // the colour profile was carried over
	EXIF          bool   // EXIF was carried over (Orientation 1, no GPS)
}

// Prepare sets the decoder up ahead of the first Convert: without the
// system libheif that compiles the WASM module, which took 2 s on a busy
// 2-core machine. Call it once at start, in the background; Convert works
// without it, paying that time once.
func Prepare() {
	heif.Init()
}

// SystemLibrary reports whether the system's libheif decodes (nil) or why
// not, in which case the WASM build does: for the start-up log.
func SystemLibrary() error {
	return heif.Dynamic()
}

// Convert decodes the HEIC or HEIF image at src and writes the JPEG to
// publish in its place to a new file in dstDir. Undecodable input gives
// an error wrapping ErrUndecodable, an oversized one ErrTooManyPixels.
// It waits for one of Options.Parallel slots, or for ctx. The decode
// itself cannot be interrupted; ctx is checked before and after it and
// while the JPEG is written.
func (c *Converter) Convert(ctx context.Context, src, dstDir string) (Result, error) {
	select {
	case c.slots <- struct{}{}:
		defer func() { <-c.slots }()
	case <-ctx.Done():
		return Result{}, fmt.Errorf("heic: %w", ctx.Err())
	}
	return convert(ctx, src, dstDir, c.opts)
}

func convert(ctx context.Context, src, dstDir string, opts Options) (Result, error) {
	f, err := os.Open(src)
	if err != nil {
		return Result{}, fmt.Errorf("heic: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return Result{}, fmt.Errorf("heic: %w", err)
	}
	p, err := inspect(f, info.Size(), opts.MaxPixels)
	if err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("heic: %w", err)
	}
	shown := p.width
	if p.rotation%2 == 1 {
		shown = p.height
	}
	if err := checkWidth(int(shown)); err != nil {
		return Result{}, err
	}
	img, err := decode(io.NewSectionReader(f, 0, info.Size()))
	if err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("heic: %w", err)
	}
	if err := checkWidth(img.Bounds().Dx()); err != nil { // after clap's crop
		return Result{}, err
	}
	out, res, err := encode(img, p, opts.Quality)
	if err != nil {
		return Result{}, err
	}
	res.Path, err = write(ctx, dstDir, out)
	if err != nil {
		return Result{}, err
	}
	if res.SHA256, res.Size, err = hashFile(res.Path); err != nil {
		os.Remove(res.Path)
		return Result{}, err
	}
	return res, nil
}

// decode runs the decoder, turning a panic in it into ErrUndecodable.
func decode(r io.Reader) (img image.Image, err error) {
	defer func() {
		if v := recover(); v != nil {
			img, err = nil, fmt.Errorf("%w: decoder panicked: %v", ErrUndecodable, v)
		}
	}()
	img, err = heif.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUndecodable, err)
	}
	return img, nil
}

// checkWidth refuses, under WASM, images the WASM build misreads.
func checkWidth(w int) error {
	if w < minWASMWidth && heif.Dynamic() != nil {
		return fmt.Errorf("%w: %d pixels wide: the WASM decoder misreads images narrower than %d", ErrUndecodable, w, minWASMWidth)
	}
	return nil
}

// inspect reads the container and applies the pixel bounds.
func inspect(r io.ReaderAt, size, maxPixels int64) (*primary, error) {
	b, err := readMeta(r, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUndecodable, err)
	}
	m, err := parseMeta(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUndecodable, err)
	}
	p, err := m.describe(r, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUndecodable, err)
	}
	if n := uint64(p.width) * uint64(p.height); n > uint64(maxPixels) {
		return nil, fmt.Errorf("%w: %d×%d is more than %d", ErrTooManyPixels, p.width, p.height, maxPixels)
	}
	if p.maxISPE > uint64(maxPixels) {
		return nil, fmt.Errorf("%w: an item of %d pixels is more than %d", ErrTooManyPixels, p.maxISPE, maxPixels)
	}
	return p, nil
}

// encode makes the JPEG's bytes: Go's encoding of the pixels, with the
// upright EXIF and the ICC profile after its SOI.
func encode(img image.Image, p *primary, quality int) ([]byte, Result, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		return nil, Result{}, fmt.Errorf("heic: encode: %w", err)
	}
	enc := buf.Bytes()
	exif := uprightEXIF(p.exif)
	if exif != nil && hashstore.FindMarkup(exif) != "" {
		exif = nil
	}
	icc := p.icc
	if hashstore.FindMarkup(icc) != "" {
		icc = nil
	}
	out := make([]byte, 0, len(enc)+len(exif)+len(icc)+64)
	out = append(out, enc[:2]...) // SOI
	out = append(out, segments(exif, icc)...)
	out = append(out, enc[2:]...)
	if tag := hashstore.FindMarkup(out); tag != "" {
		return nil, Result{}, fmt.Errorf("%w: the JPEG made from it holds <%s", ErrUndecodable, tag)
	}
	r := img.Bounds()
	return out, Result{Width: r.Dx(), Height: r.Dy(), ICC: len(icc) > 0, EXIF: exif != nil}, nil
}

// write puts the JPEG in a new file in dir and removes GPS from it.
func write(ctx context.Context, dir string, b []byte) (string, error) {
	f, err := os.CreateTemp(dir, ".heic-*.jpg")
	if err != nil {
		return "", fmt.Errorf("heic: write: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		_, err = gpsstrip.Strip(ctx, f.Name(), "image/jpeg")
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("heic: write: %w", err)
	}
	return f.Name(), nil
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("heic: hash: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("heic: hash: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
