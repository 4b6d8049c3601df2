package video

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/at-wat/ebml-go"
)

// Limits of the WebM read: the header elements sit at the start, before
// the first Cluster; real ones take a few kilobytes.
const (
	maxWebMHead = 16 << 20
	maxWebMLeaf = 1 << 20
)

// webmHead is the part of a WebM file that Probe decodes; ebml-go stops
// reading once Tracks is complete, so no Cluster is read.
type webmHead struct {
	Header struct {
		DocType string `ebml:"EBMLDocType"`
	} `ebml:"EBML"`
	Segment struct {
		Info struct {
			TimecodeScale uint64  `ebml:"TimecodeScale"`
			Duration      float64 `ebml:"Duration"`
		} `ebml:"Info"`
		Tracks struct {
			TrackEntry []struct {
				TrackType uint64 `ebml:"TrackType"`
				Video     struct {
					PixelWidth    uint64 `ebml:"PixelWidth"`
					PixelHeight   uint64 `ebml:"PixelHeight"`
					DisplayWidth  uint64 `ebml:"DisplayWidth"`
					DisplayHeight uint64 `ebml:"DisplayHeight"`
					DisplayUnit   uint64 `ebml:"DisplayUnit"`
				} `ebml:"Video"`
			} `ebml:"TrackEntry"`
		} `ebml:"Tracks,stop"`
	} `ebml:"Segment"`
}

// Matroska constants.
const (
	trackTypeVideo    = 1
	displayUnitPixels = 0
	defaultTimescale  = 1_000_000 // nanoseconds per Duration unit
)

// ctxReader fails once ctx is done, so a slow walk stops with the request.
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

func probeWebM(ctx context.Context, r io.ReaderAt, size int64) (Facts, error) {
	var head webmHead
	in := ctxReader{ctx, io.NewSectionReader(r, 0, min(size, maxWebMHead))}
	err := ebml.Unmarshal(in, &head, ebml.WithMaxLeafElementSize(maxWebMLeaf))
	switch {
	case errors.Is(err, ebml.ErrReadStopped):
	case ctx.Err() != nil:
		return Facts{}, ctx.Err()
	case err != nil:
		return Facts{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	default:
		// The whole head was read without a complete Tracks element.
		return Facts{}, malformed("no Tracks in the first %d bytes", min(size, maxWebMHead))
	}
	if t := head.Header.DocType; t != "webm" && t != "matroska" {
		return Facts{}, malformed("doctype %q", t)
	}
	var f Facts
	for _, t := range head.Segment.Tracks.TrackEntry {
		if t.TrackType != trackTypeVideo {
			continue
		}
		v := t.Video
		w, h := v.PixelWidth, v.PixelHeight
		if v.DisplayUnit == displayUnitPixels && v.DisplayWidth > 0 && v.DisplayHeight > 0 {
			w, h = v.DisplayWidth, v.DisplayHeight
		}
		if w == 0 || h == 0 || w > 1<<16 || h > 1<<16 {
			return Facts{}, malformed("video track of %dx%d", w, h)
		}
		f.Width, f.Height = int(w), int(h)
		break
	}
	if f.Width == 0 {
		return Facts{}, malformed("no video track")
	}
	scale := head.Segment.Info.TimecodeScale
	if scale == 0 {
		scale = defaultTimescale
	}
	if d := head.Segment.Info.Duration * float64(scale) / 1e9; d > 0 && !math.IsInf(d, 0) && !math.IsNaN(d) {
		f.Duration = d
	}
	return f, nil
}
