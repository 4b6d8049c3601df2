package thumbs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"os"

	"github.com/gen2brain/avif"
	"golang.org/x/image/webp"
)

// format is one allowlisted image type.
type format struct {
	name         string
	decodeConfig func(io.Reader) (image.Config, error)
	// decode decodes the image, shrunk by the integer factor d where the
	// format can do that cheaply, and at full size otherwise.
	decode func(r io.Reader, d int) (image.Image, error)
	// orientation reads the EXIF orientation from the file's start.
	orientation func(io.Reader) int
	// walk checks the file's structure and metadata (see walk_jpeg.go).
	walk func(r io.Reader, size int64, cfg image.Config) (walked, error)
}

// walked is what a structure walk learned.
type walked struct {
	// cost is the memory the decode will take, in bytes (an estimate
	// from the header: planes, coefficients, canvases).
	cost int64
	// photo says `same` thumbnails are JPEG: the source is an opaque
	// photo (JPEG, AVIF, lossy WebP without alpha), not an image with
	// alpha or a lossless one (PNG, GIF, lossless WebP).
	photo bool
	// icc is the source's colour profile to carry into JPEG thumbnails
	// (JPEG sources only; markup-checked).
	icc []byte
}

var formats = map[string]format{
	"image/jpeg": {name: "jpeg", decodeConfig: jpeg.DecodeConfig, decode: thenShrink(jpeg.Decode), orientation: JPEGOrientation, walk: walkJPEGFile},
	"image/png":  {name: "png", decodeConfig: png.DecodeConfig, decode: thenShrink(png.Decode), orientation: noOrientation, walk: walkPNGFile},
	"image/gif":  {name: "gif", decodeConfig: gif.DecodeConfig, decode: firstFrame, orientation: noOrientation, walk: walkGIFFile},
	"image/webp": {name: "webp", decodeConfig: webp.DecodeConfig, decode: thenShrink(webp.Decode), orientation: noOrientation, walk: walkWebPFile},
	"image/avif": {name: "avif", decodeConfig: avif.DecodeConfig, decode: thenShrink(avif.Decode), orientation: noOrientation, walk: walkAVIFFile},
}

func walkJPEGFile(r io.Reader, _ int64, cfg image.Config) (walked, error) {
	info, err := walkJPEG(r)
	if err != nil {
		return walked{}, err
	}
	icc := assembleICC(info.icc)
	if err := checkMarkup("jpeg ICC profile", icc); err != nil {
		return walked{}, err
	}
	// The decode, plus its shrunk copy at most a quarter of it.
	return walked{cost: info.decodeBytes() * 5 / 4, photo: true, icc: icc}, nil
}

func walkPNGFile(r io.Reader, _ int64, _ image.Config) (walked, error) {
	info, err := walkPNG(r)
	if err != nil {
		return walked{}, err
	}
	// The decode, plus its shrunk copy at most a quarter of it.
	return walked{cost: info.decodeBytes() * 5 / 4}, nil
}

func walkGIFFile(r io.Reader, _ int64, cfg image.Config) (walked, error) {
	if err := walkGIF(r); err != nil {
		return walked{}, err
	}
	// A paletted frame, and the RGBA canvas a partial frame is drawn on.
	return walked{cost: pixels(cfg) * 5}, nil
}

func walkWebPFile(r io.Reader, size int64, cfg image.Config) (walked, error) {
	info, err := walkWebP(r, size)
	if err != nil {
		return walked{}, err
	}
	// x/image/webp: lossy is 4:2:0 (plus an alpha plane); lossless
	// decodes to 32-bit pixels and then to NRGBA.
	cost := pixels(cfg) * 5 / 2
	if info.lossless {
		cost = pixels(cfg) * 8
	}
	return walked{cost: cost, photo: !info.lossless && !info.alpha}, nil
}

func walkAVIFFile(r io.Reader, size int64, cfg image.Config) (walked, error) {
	if err := walkISOBMFF(r, size, "avif", "avis"); err != nil {
		return walked{}, err
	}
	// libavif in WASM: its YUV planes and RGBA in the module's memory,
	// then the RGBA copied out.
	return walked{cost: pixels(cfg) * 12, photo: true}, nil
}

func pixels(cfg image.Config) int64 { return int64(cfg.Width) * int64(cfg.Height) }

// thenShrink is dec followed by shrink by the integer factor d: the
// standard library's decoders and the others have no shrink-on-load.
func thenShrink(dec func(io.Reader) (image.Image, error)) func(io.Reader, int) (image.Image, error) {
	return func(r io.Reader, d int) (image.Image, error) {
		img, err := dec(r)
		if err != nil {
			return nil, err
		}
		return shrink(img, d), nil
	}
}

// firstFrame decodes a GIF's first frame (gif.Decode stops there) and
// places it on a canvas of the logical screen size, as a browser shows it
// before the animation starts, so that thumbnails keep the probed aspect.
func firstFrame(r io.Reader, _ int) (image.Image, error) {
	cfg, frame, err := decodeGIF(r)
	if err != nil {
		return nil, err
	}
	screen := image.Rect(0, 0, cfg.Width, cfg.Height)
	if frame.Bounds() == screen {
		return frame, nil
	}
	canvas := image.NewNRGBA(screen)
	draw.Draw(canvas, frame.Bounds(), frame, frame.Bounds().Min, draw.Src)
	return canvas, nil
}

// decodeGIF reads the logical screen size and the first frame from one
// pass over r.
func decodeGIF(r io.Reader) (image.Config, image.Image, error) {
	br := bufio.NewReader(r)
	// The logical screen descriptor follows the 6-byte signature.
	head, err := br.Peek(10)
	if err != nil {
		return image.Config{}, nil, err
	}
	cfg := image.Config{Width: int(head[6]) | int(head[7])<<8, Height: int(head[8]) | int(head[9])<<8}
	frame, err := gif.Decode(br)
	return cfg, frame, err
}

// header is what Probe learns from the file without decoding it.
type header struct {
	format      format
	width       int // as stored
	height      int
	orientation int // EXIF orientation, 1–8
	walked
}

// displayed is the size after orientation.
func (h header) displayed() Size {
	if h.orientation >= 5 {
		return Size{Width: h.height, Height: h.width}
	}
	return Size{Width: h.width, Height: h.height}
}

// bytesPerMaxPixel bounds a decode's memory: MaxPixels × 4 bytes, what an
// RGBA image at the pixel limit takes. Formats whose decoders hold more
// per pixel (a progressive JPEG keeps every coefficient: 7.5 bytes a pixel
// for 4:2:0, 15 for 4:4:4) are accepted up to correspondingly fewer pixels.
const bytesPerMaxPixel = 4

func (m *Maker) probe(ctx context.Context, path, mimeType string) (header, error) {
	f, ok := formats[mimeType]
	if !ok {
		return header{}, fmt.Errorf("probe %s: %q is not an image type", path, mimeType)
	}
	file, err := os.Open(path)
	if err != nil {
		return header{}, fmt.Errorf("probe: %w", err)
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return header{}, fmt.Errorf("probe: %w", err)
	}
	r := ctxReader{ctx, file}
	cfg, err := f.decodeConfig(bufio.NewReader(r))
	if err != nil {
		return header{}, decodeError("probe", path, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return header{}, fmt.Errorf("probe %s: %w: %d×%d pixels", path, ErrUndecodable, cfg.Width, cfg.Height)
	}
	if px := pixels(cfg); px > m.max {
		return header{}, fmt.Errorf("probe %s: %w: %d×%d is over %d", path, ErrTooManyPixels, cfg.Width, cfg.Height, m.max)
	}
	h := header{format: f, width: cfg.Width, height: cfg.Height}
	if err := rewind(file); err != nil {
		return header{}, err
	}
	if h.walked, err = f.walk(r, st.Size(), cfg); err != nil {
		return header{}, decodeError("check", path, err)
	}
	if limit := m.max * bytesPerMaxPixel; h.cost > limit {
		return header{}, fmt.Errorf("probe %s: %w: decoding %d×%d %s would take %d MB, over the %d MB max pixels allow",
			path, ErrTooManyPixels, cfg.Width, cfg.Height, f.name, h.cost>>20, limit>>20)
	}
	if err := rewind(file); err != nil {
		return header{}, err
	}
	h.orientation = f.orientation(bufio.NewReader(r))
	return h, nil
}

func rewind(f *os.File) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	return nil
}

// decode decodes the file at path, shrunk by d where the format allows,
// failing once ctx is done.
func decode(ctx context.Context, path string, f format, d int) (image.Image, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	defer file.Close()
	img, err := f.decode(bufio.NewReaderSize(ctxReader{ctx, file}, 64<<10), d)
	if err != nil {
		return nil, decodeError("decode", path, err)
	}
	return img, nil
}

// ctxReader fails every read once ctx is done, so that a decode stops
// soon after the client has gone.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// decodeError sorts a decoder's error: failures to read the file and an
// ended context are not the image's fault; markup is ErrMarkup; anything
// else means the bytes are not a valid image.
func decodeError(op, path string, err error) error {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrMarkup) {
		return fmt.Errorf("%s %s: %w", op, path, err)
	}
	return fmt.Errorf("%s %s: %w: %w", op, path, ErrUndecodable, err)
}
