package video

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Limits of the MP4 walk.
const (
	maxMoov     = 32 << 20 // a 50 MB phone video's moov is a few hundred KB
	maxTopBoxes = 4096
	maxBoxes    = 1 << 16 // inside moov
	maxDepth    = 8
)

// moovFacts collects what the walk finds in moov.
type moovFacts struct {
	timescale, duration uint64 // mvhd
	fragDuration        uint64 // mvex/mehd, for fragmented files
	fragmented          bool   // has mvex
	trexDuration        map[uint32]uint32
	video               *track
	boxes               int
}

type track struct {
	id            uint32     // tkhd
	width, height float64    // tkhd, 16.16 fixed point
	matrix        [4]float64 // a, b, c, d of tkhd's matrix
	handler       string     // mdia/hdlr
	timescale     uint64     // mdia/mdhd
	duration      uint64
}

// topBox reads the header of the top-level box at off: its type, header
// length and whole size.
func topBox(r io.ReaderAt, off, size int64) (typ string, hdr, bsize int64, err error) {
	var h [16]byte
	if _, err := r.ReadAt(h[:8], off); err != nil {
		return "", 0, 0, fmt.Errorf("read box: %w", err)
	}
	u, hdr := uint64(binary.BigEndian.Uint32(h[:])), int64(8)
	switch u {
	case 0:
		u = uint64(size - off)
	case 1:
		if _, err := r.ReadAt(h[8:], off+8); err != nil {
			return "", 0, 0, malformed("box at %d: %v", off, err)
		}
		u, hdr = binary.BigEndian.Uint64(h[8:]), 16
	}
	if u < uint64(hdr) || u > uint64(size-off) {
		return "", 0, 0, malformed("box %q at %d: size %d in %d", h[4:8], off, u, size)
	}
	return string(h[4:8]), hdr, int64(u), nil
}

// probeMP4 finds the top-level moov box, reads it and walks it; for a
// fragmented file that does not say its duration, it adds up the video
// track's sample durations in the fragments.
func probeMP4(ctx context.Context, r io.ReaderAt, size int64) (Facts, error) {
	var off int64
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return Facts{}, err
		}
		if n >= maxTopBoxes || off+8 > size {
			return Facts{}, malformed("no moov box")
		}
		typ, hdr, bsize, err := topBox(r, off, size)
		if err != nil {
			return Facts{}, err
		}
		off += bsize
		if typ != "moov" {
			continue
		}
		if bsize-hdr > maxMoov {
			return Facts{}, malformed("moov of %d bytes", bsize)
		}
		b := make([]byte, bsize-hdr)
		if _, err := r.ReadAt(b, off-bsize+hdr); err != nil {
			return Facts{}, fmt.Errorf("read moov: %w", err)
		}
		m, f, err := parseMoov(b)
		if err != nil {
			return Facts{}, err
		}
		if f.Duration == 0 && m.fragmented && m.video.timescale > 0 {
			if d := fragmentsDuration(ctx, r, off, size, m); d > 0 {
				f.Duration = float64(d) / float64(m.video.timescale)
			}
		}
		return f, nil
	}
}

// parseMoov walks moov's payload and turns what it found into facts.
func parseMoov(b []byte) (*moovFacts, Facts, error) {
	m := &moovFacts{}
	if err := m.walk(b, "moov", 0, nil); err != nil {
		return nil, Facts{}, err
	}
	t := m.video
	if t == nil || t.width <= 0 || t.height <= 0 {
		return nil, Facts{}, malformed("no video track with a size")
	}
	a, bb, c, d := t.matrix[0], t.matrix[1], t.matrix[2], t.matrix[3]
	// The matrix maps (x, y) to (a·x + c·y, b·x + d·y); the displayed box
	// of the w×h frame under a rotation or flip is |a·w|+|c·h| wide.
	w := math.Abs(a*t.width) + math.Abs(c*t.height)
	h := math.Abs(bb*t.width) + math.Abs(d*t.height)
	if a == 0 && bb == 0 && c == 0 && d == 0 {
		w, h = t.width, t.height // no matrix written: identity
	}
	f := Facts{Width: int(math.Round(w)), Height: int(math.Round(h))}
	if f.Width <= 0 || f.Height <= 0 || f.Width > 1<<16 || f.Height > 1<<16 {
		return nil, Facts{}, malformed("display size %gx%g", w, h)
	}
	switch {
	case m.timescale > 0 && m.duration > 0 && m.duration != math.MaxUint32 && m.duration != math.MaxUint64:
		f.Duration = float64(m.duration) / float64(m.timescale)
	case m.timescale > 0 && m.fragDuration > 0:
		f.Duration = float64(m.fragDuration) / float64(m.timescale)
	case t.timescale > 0 && t.duration > 0:
		f.Duration = float64(t.duration) / float64(t.timescale)
	}
	return m, f, nil
}

// walk visits the boxes of a container's payload.
func (m *moovFacts) walk(b []byte, parent string, depth int, t *track) error {
	if depth > maxDepth {
		return malformed("boxes nested deeper than %d", maxDepth)
	}
	for len(b) > 0 {
		if m.boxes++; m.boxes > maxBoxes {
			return malformed("more than %d boxes in moov", maxBoxes)
		}
		if len(b) < 8 {
			return malformed("%s: box header cut short", parent)
		}
		size, hdr := uint64(binary.BigEndian.Uint32(b)), uint64(8)
		typ := string(b[4:8])
		switch size {
		case 0:
			size = uint64(len(b))
		case 1:
			if len(b) < 16 {
				return malformed("%s: large size cut short", typ)
			}
			size, hdr = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < hdr || size > uint64(len(b)) {
			return malformed("%s in %s: size %d of %d", typ, parent, size, len(b))
		}
		if err := m.visit(typ, b[hdr:size], depth, t); err != nil {
			return err
		}
		b = b[size:]
	}
	return nil
}

func (m *moovFacts) visit(typ string, body []byte, depth int, t *track) error {
	switch typ {
	case "trak":
		nt := &track{}
		if err := m.walk(body, typ, depth+1, nt); err != nil {
			return err
		}
		if nt.handler == "vide" && m.video == nil {
			m.video = nt
		}
	case "mvex":
		m.fragmented = true
		return m.walk(body, typ, depth+1, t)
	case "trex":
		// version/flags, track ID, default description index, duration.
		if len(body) >= 16 {
			if m.trexDuration == nil {
				m.trexDuration = map[uint32]uint32{}
			}
			m.trexDuration[binary.BigEndian.Uint32(body[4:])] = binary.BigEndian.Uint32(body[12:])
		}
	case "mdia":
		return m.walk(body, typ, depth+1, t)
	case "mvhd":
		ts, dur, err := timing(body)
		if err != nil {
			return fmt.Errorf("mvhd: %w", err)
		}
		m.timescale, m.duration = ts, dur
	case "mehd":
		v, rest, err := version(body)
		if err != nil {
			return err
		}
		d, err := field(rest, 0, v == 1)
		if err != nil {
			return fmt.Errorf("mehd: %w", err)
		}
		m.fragDuration = d
	case "tkhd":
		if t != nil {
			return t.header(body)
		}
	case "mdhd":
		if t != nil {
			ts, dur, err := timing(body)
			if err != nil {
				return fmt.Errorf("mdhd: %w", err)
			}
			t.timescale, t.duration = ts, dur
		}
	case "hdlr":
		if t != nil && len(body) >= 12 {
			t.handler = string(body[8:12])
		}
	}
	return nil
}

// version splits a full box's version from its payload.
func version(b []byte) (uint8, []byte, error) {
	if len(b) < 4 {
		return 0, nil, malformed("full box without version")
	}
	return b[0], b[4:], nil
}

// field reads the i-th field of 4 bytes (or of 8 when wide) of b.
func field(b []byte, at int, wide bool) (uint64, error) {
	if wide {
		if len(b) < at+8 {
			return 0, malformed("field cut short")
		}
		return binary.BigEndian.Uint64(b[at:]), nil
	}
	if len(b) < at+4 {
		return 0, malformed("field cut short")
	}
	return uint64(binary.BigEndian.Uint32(b[at:])), nil
}

// timing reads timescale and duration from mvhd or mdhd, which share
// their layout up to them: creation and modification times, timescale,
// duration (times and duration 8 bytes in version 1).
func timing(b []byte) (timescale, duration uint64, err error) {
	v, rest, err := version(b)
	if err != nil {
		return 0, 0, err
	}
	wide := v == 1
	at := 8
	if wide {
		at = 16
	}
	if timescale, err = field(rest, at, false); err != nil {
		return 0, 0, err
	}
	if duration, err = field(rest, at+4, wide); err != nil {
		return 0, 0, err
	}
	return timescale, duration, nil
}

// header reads the track header's matrix and size.
func (t *track) header(b []byte) error {
	v, rest, err := version(b)
	if err != nil {
		return err
	}
	// times and track ID, reserved, duration; reserved 8, layer,
	// alternate group, volume, reserved: 2 each.
	at := 4 + 4 + 4 + 4 + 4 + 8 + 8
	if v == 1 {
		at = 8 + 8 + 4 + 4 + 8 + 8 + 8
	}
	if len(rest) < at+36+8 {
		return malformed("tkhd cut short")
	}
	idAt := 8
	if v == 1 {
		idAt = 16
	}
	t.id = binary.BigEndian.Uint32(rest[idAt:])
	m := rest[at:]
	fixed := func(i int) float64 { return float64(int32(binary.BigEndian.Uint32(m[4*i:]))) / 65536 }
	t.matrix = [4]float64{fixed(0), fixed(1), fixed(3), fixed(4)}
	t.width = float64(binary.BigEndian.Uint32(rest[at+36:])) / 65536
	t.height = float64(binary.BigEndian.Uint32(rest[at+40:])) / 65536
	return nil
}
