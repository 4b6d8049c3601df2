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
	// jpegOut says thumbnails are JPEG rather than PNG.
	jpegOut bool
}

var formats = map[string]format{
	"image/jpeg": {
		name:         "jpeg",
		decodeConfig: jpeg.DecodeConfig,
		decode:       decodeJPEG,
		orientation:  JPEGOrientation,
		jpegOut:      true,
	},
	"image/png": {
		name:         "png",
		decodeConfig: png.DecodeConfig,
		decode:       fullSize(png.Decode),
		orientation:  noOrientation,
	},
	"image/gif": {
		name:         "gif",
		decodeConfig: gif.DecodeConfig,
		decode:       firstFrame,
		orientation:  noOrientation,
	},
	"image/webp": {
		name:         "webp",
		decodeConfig: webp.DecodeConfig,
		decode:       fullSize(webp.Decode),
		orientation:  noOrientation,
	},
}

// decodeJPEG decodes with the standard library and shrinks the planes by
// the integer factor d (see shrink).
func decodeJPEG(r io.Reader, d int) (image.Image, error) {
	img, err := jpeg.Decode(r)
	if err != nil {
		return nil, err
	}
	return shrink(img, d), nil
}

func fullSize(dec func(io.Reader) (image.Image, error)) func(io.Reader, int) (image.Image, error) {
	return func(r io.Reader, _ int) (image.Image, error) { return dec(r) }
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

// header is what Probe learns from the start of a file.
type header struct {
	format      format
	width       int // as stored
	height      int
	orientation int // EXIF orientation, 1–8
}

// displayed is the size after orientation.
func (h header) displayed() Size {
	if h.orientation >= 5 {
		return Size{Width: h.height, Height: h.width}
	}
	return Size{Width: h.width, Height: h.height}
}

func (m *Maker) probe(ctx context.Context, path, mimeType string) (header, error) {
	f, ok := formats[mimeType]
	if !ok {
		return header{}, fmt.Errorf("probe %s: %q is not an image type", path, mimeType)
	}
	if err := ctx.Err(); err != nil {
		return header{}, fmt.Errorf("probe %s: %w", path, err)
	}
	file, err := os.Open(path)
	if err != nil {
		return header{}, fmt.Errorf("probe: %w", err)
	}
	defer file.Close()
	cfg, err := f.decodeConfig(bufio.NewReader(file))
	if err != nil {
		return header{}, decodeError("probe", path, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return header{}, fmt.Errorf("probe %s: %w: %d×%d pixels", path, ErrUndecodable, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > m.max {
		return header{}, fmt.Errorf("probe %s: %w: %d×%d is over %d", path, ErrTooManyPixels, cfg.Width, cfg.Height, m.max)
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return header{}, fmt.Errorf("probe: %w", err)
	}
	return header{
		format:      f,
		width:       cfg.Width,
		height:      cfg.Height,
		orientation: f.orientation(bufio.NewReader(file)),
	}, nil
}

// decode decodes the file at path, shrunk by denom where the format allows.
func decode(path string, f format, denom int) (image.Image, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	defer file.Close()
	img, err := f.decode(bufio.NewReaderSize(file, 64<<10), denom)
	if err != nil {
		return nil, decodeError("decode", path, err)
	}
	return img, nil
}

// decodeError sorts a decoder's error: failures to read the file are the
// server's fault, anything else means the bytes are not a valid image.
func decodeError(op, path string, err error) error {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s %s: %w: %w", op, path, ErrUndecodable, err)
}
