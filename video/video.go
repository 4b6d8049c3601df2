// Package video reads what Micropub clients show before a video plays:
// its width and height as displayed and its duration, from the container
// (MP4 and MOV: the ISO base media boxes; WebM: the EBML header elements),
// and makes a poster frame with ffmpeg when one is configured.
//
// Only metadata is read: MP4/MOV box headers with everything but moov
// skipped by seeking (moov itself is read whole, up to maxMoov bytes; in
// a fragmented file that does not state its duration, each moof too, up
// to maxMoof bytes, to add up the video's sample durations), and
// WebM up to its Tracks element, through github.com/at-wat/ebml-go, with
// at most maxWebMHead bytes read. A file is never read whole.
//
// Width and height are as displayed: for MP4/MOV the video track header's
// size with its transformation matrix applied, so a portrait phone video
// (stored landscape, rotated 90° by the matrix) is portrait; for WebM the
// DisplayWidth/DisplayHeight when given in pixels, else the pixel size.
// WebM has no rotation that ffmpeg or browsers write, so none is applied.
// Duration is in seconds; a WebM written live (MediaRecorder) carries no
// Duration element, and its Duration is then 0, meaning unknown.
package video

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// Errors of Probe, tested with errors.Is; a server maps both to 422.
var (
	// ErrMalformed reports a container that cannot be read, or that has
	// no video track with a size.
	ErrMalformed = errors.New("video: malformed container")
	// ErrUnsupported reports a MIME type Probe does not read.
	ErrUnsupported = errors.New("video: unsupported type")
)

// Facts are what a video's container says about how it shows.
type Facts struct {
	Width, Height int     // as displayed
	Duration      float64 // seconds; 0 when the container does not say
}

// Probe reads the facts of the video at path, of the given sniffed MIME
// type (video/mp4, video/quicktime or video/webm).
func Probe(ctx context.Context, path, mimeType string) (Facts, error) {
	var read func(context.Context, io.ReaderAt, int64) (Facts, error)
	switch mimeType {
	case "video/mp4", "video/quicktime":
		read = probeMP4
	case "video/webm":
		read = probeWebM
	default:
		return Facts{}, fmt.Errorf("probe %s: %w", mimeType, ErrUnsupported)
	}
	f, err := os.Open(path)
	if err != nil {
		return Facts{}, fmt.Errorf("probe: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return Facts{}, fmt.Errorf("probe: %w", err)
	}
	facts, err := read(ctx, f, info.Size())
	if err != nil {
		return Facts{}, fmt.Errorf("probe %s: %w", mimeType, err)
	}
	return facts, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}
