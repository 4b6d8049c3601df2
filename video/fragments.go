package video

import (
	"context"
	"encoding/binary"
	"io"
)

// maxMoof bounds one movie fragment's box, read whole.
const maxMoof = 1 << 20

// trun flags: which optional fields each sample has.
const (
	trunDataOffset     = 0x000001
	trunFirstFlags     = 0x000004
	trunSampleDuration = 0x000100
	trunSampleSize     = 0x000200
	trunSampleFlags    = 0x000400
	trunSampleCTO      = 0x000800
	tfhdBaseOffset     = 0x000001
	tfhdDescription    = 0x000002
	tfhdDuration       = 0x000008
)

// fragmentsDuration adds up the durations of the video track's samples in
// the movie fragments (moof boxes) from off on, in the track's timescale.
// It is best effort: it gives 0 when a fragment cannot be read, when the
// walk meets more boxes than maxTopBoxes, or when ctx is done.
func fragmentsDuration(ctx context.Context, r io.ReaderAt, off, size int64, m *moovFacts) uint64 {
	var total uint64
	for n := 0; off+8 <= size; n++ {
		if n >= maxTopBoxes || ctx.Err() != nil {
			return 0
		}
		typ, hdr, bsize, err := topBox(r, off, size)
		if err != nil {
			return 0
		}
		if typ == "moof" {
			if bsize-hdr > maxMoof {
				return 0
			}
			b := make([]byte, bsize-hdr)
			if _, err := r.ReadAt(b, off+hdr); err != nil {
				return 0
			}
			d, ok := moofDuration(b, m)
			if !ok {
				return 0
			}
			total += d
		}
		off += bsize
	}
	return total
}

// moofDuration sums the video track's sample durations in one moof.
func moofDuration(b []byte, m *moovFacts) (uint64, bool) {
	var total uint64
	for _, traf := range children(b) {
		if traf.typ != "traf" {
			continue
		}
		var id, def uint32
		for _, c := range children(traf.body) {
			switch c.typ {
			case "tfhd":
				if len(c.body) < 8 {
					return 0, false
				}
				flags := binary.BigEndian.Uint32(c.body) & 0xFFFFFF
				id = binary.BigEndian.Uint32(c.body[4:])
				def = m.trexDuration[id]
				at := 8
				if flags&tfhdBaseOffset != 0 {
					at += 8
				}
				if flags&tfhdDescription != 0 {
					at += 4
				}
				if flags&tfhdDuration != 0 {
					if len(c.body) < at+4 {
						return 0, false
					}
					def = binary.BigEndian.Uint32(c.body[at:])
				}
			case "trun":
				if id != m.video.id {
					continue
				}
				d, ok := trunDuration(c.body, def)
				if !ok {
					return 0, false
				}
				total += d
			}
		}
	}
	return total, true
}

// trunDuration sums one track run's sample durations; samples without
// their own use def.
func trunDuration(b []byte, def uint32) (uint64, bool) {
	if len(b) < 8 {
		return 0, false
	}
	flags := binary.BigEndian.Uint32(b) & 0xFFFFFF
	count := uint64(binary.BigEndian.Uint32(b[4:]))
	at := 8
	if flags&trunDataOffset != 0 {
		at += 4
	}
	if flags&trunFirstFlags != 0 {
		at += 4
	}
	per := 0
	for _, f := range []uint32{trunSampleDuration, trunSampleSize, trunSampleFlags, trunSampleCTO} {
		if flags&f != 0 {
			per += 4
		}
	}
	if flags&trunSampleDuration == 0 {
		return count * uint64(def), at <= len(b)
	}
	if at > len(b) || count > uint64(len(b)-at)/uint64(per) {
		return 0, false
	}
	var total uint64
	for i := range int(count) {
		total += uint64(binary.BigEndian.Uint32(b[at+i*per:]))
	}
	return total, true
}

// rawBox is a box inside a fragment: its type and payload.
type rawBox struct {
	typ  string
	body []byte
}

// children splits a container's payload into boxes, stopping at the
// first that does not fit.
func children(b []byte) []rawBox {
	var out []rawBox
	for len(b) >= 8 {
		size := uint64(binary.BigEndian.Uint32(b))
		if size < 8 || size > uint64(len(b)) {
			break
		}
		out = append(out, rawBox{string(b[4:8]), b[8:size]})
		b = b[size:]
	}
	return out
}
