package video

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"strconv"
	"time"

	"spano/hashstore"
)

// Defaults for zero Options fields.
const (
	DefaultTimeout        = 30 * time.Second
	DefaultMaxPosterBytes = 10 << 20
)

// maxPosterPixels bounds the poster decoded for checking: 8K video.
const maxPosterPixels = 7680 * 4320

// ErrNoPoster reports that no poster was made: posters are off
// (Options.FFmpeg is ""), or ffmpeg failed, timed out or wrote something
// that is not a sound JPEG. The video's facts do not depend on it.
var ErrNoPoster = errors.New("video: no poster")

// Options configures Poster.
type Options struct {
	FFmpeg         string        // ffmpeg's name or path (video.ffmpeg); "" = no posters
	Timeout        time.Duration // for one ffmpeg run
	MaxPosterBytes int64         // ffmpeg stops writing a poster past this size
}

// limitedBuffer keeps the first n bytes written to it: ffmpeg's error
// output, for the error message.
type limitedBuffer struct {
	bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.Len(); room > 0 {
		l.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Poster makes a poster frame of the spooled video at src: the frame at
// min(1 s, duration/2), upright (ffmpeg applies the display matrix), as
// a JPEG in a new file in dstDir whose path it returns; the caller owns
// the file. ffmpeg reads that one file only: no stdin, no protocol but
// file, a timeout, and a bound on the size of what it writes. Every
// failure wraps ErrNoPoster and leaves nothing behind.
func Poster(ctx context.Context, opts Options, src, dstDir string, duration float64) (string, error) {
	if opts.FFmpeg == "" {
		return "", fmt.Errorf("poster: posters are off: %w", ErrNoPoster)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxPosterBytes <= 0 {
		opts.MaxPosterBytes = DefaultMaxPosterBytes
	}
	out, err := os.CreateTemp(dstDir, ".poster-*.jpg")
	if err != nil {
		return "", fmt.Errorf("poster: %w", err)
	}
	out.Close()
	if err := runFFmpeg(ctx, opts, src, out.Name(), duration); err != nil {
		os.Remove(out.Name())
		return "", err
	}
	if err := checkPoster(out.Name(), opts.MaxPosterBytes); err != nil {
		os.Remove(out.Name())
		return "", err
	}
	return out.Name(), nil
}

func runFFmpeg(ctx context.Context, opts Options, src, dst string, duration float64) error {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	at := min(1, duration/2)
	if at < 0 || math.IsNaN(at) {
		at = 0
	}
	cmd := exec.CommandContext(ctx, opts.FFmpeg,
		"-nostdin", "-hide_banner", "-loglevel", "error",
		"-protocol_whitelist", "file",
		"-ss", strconv.FormatFloat(at, 'f', 3, 64),
		"-i", "file:"+src,
		"-map", "0:v:0", "-an", "-sn", "-dn",
		"-frames:v", "1", "-q:v", "3",
		"-fs", strconv.FormatInt(opts.MaxPosterBytes, 10),
		"-f", "image2", "-c:v", "mjpeg", "-update", "1",
		"-y", "file:"+dst)
	cmd.Env = []string{} // nothing of ours for it to read
	cmd.WaitDelay = time.Second
	stderr := &limitedBuffer{n: 2048}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fmt.Errorf("poster: ffmpeg: %w: %w (%s)", ErrNoPoster, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

// checkPoster makes sure ffmpeg wrote one sound JPEG, within the bound,
// with no markup in it (the check every upload passes).
func checkPoster(path string, maxBytes int64) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("poster: %w: %w", ErrNoPoster, err)
	}
	if info.Size() == 0 || info.Size() > maxBytes {
		return fmt.Errorf("poster: %w: ffmpeg wrote %d bytes", ErrNoPoster, info.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("poster: %w: %w", ErrNoPoster, err)
	}
	// Decoded whole, so that a JPEG cut short by the size bound is caught.
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("poster: %w: not a JPEG: %w", ErrNoPoster, err)
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxPosterPixels {
		return fmt.Errorf("poster: %w: %dx%d", ErrNoPoster, cfg.Width, cfg.Height)
	}
	if _, err := jpeg.Decode(bytes.NewReader(b)); err != nil {
		return fmt.Errorf("poster: %w: not a whole JPEG: %w", ErrNoPoster, err)
	}
	if tag := hashstore.FindMarkup(b); tag != "" {
		return fmt.Errorf("poster: %w: holds <%s", ErrNoPoster, tag)
	}
	return nil
}
