package heic

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Limits of the container walk. Real files are far below them: an
// iPhone's meta box is a few kilobytes for 48 tiles.
const (
	maxMeta     = 4 << 20        // bytes of the meta box, read whole
	maxTopBoxes = 1024           // top-level boxes before meta
	maxItems    = 1 << 14        // items in iinf/iloc/ipma
	maxExif     = 1 << 20        // bytes of the Exif item
	maxICC      = 255 * iccChunk // bytes of an ICC profile: what 255 APP2 chunks hold
)

// errContainer marks a HEIF structure that cannot be read; Convert wraps
// it in ErrUndecodable.
var errContainer = errors.New("heif container")

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errContainer, fmt.Sprintf(format, args...))
}

// primary is what the container says about the primary image.
type primary struct {
	id            uint32
	typ           string // item type: hvc1, grid, av01, …
	width, height uint32 // ispe: before transforms
	rotation      int    // irot: anticlockwise quarter turns, 0–3
	mirror        int    // imir mode: -1 none, 0 top–bottom, 1 left–right
	icc           []byte // colr prof/rICC payload
	exif          []byte // TIFF structure of the Exif item describing it
	maxISPE       uint64 // largest ispe of any item, in pixels
}

// box is a parsed box header inside an in-memory buffer.
type box struct {
	typ  string
	body []byte // payload, after the header
}

// boxes splits b into its boxes. Size 0 (to the end) is allowed; a box
// running past b is an error.
func boxes(b []byte) ([]box, error) {
	var out []box
	for len(b) > 0 {
		if len(b) < 8 {
			return nil, bad("box header cut short")
		}
		size := uint64(binary.BigEndian.Uint32(b))
		typ := string(b[4:8])
		hdr := uint64(8)
		switch size {
		case 0:
			size = uint64(len(b))
		case 1:
			if len(b) < 16 {
				return nil, bad("%s: large size cut short", typ)
			}
			size, hdr = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < hdr || size > uint64(len(b)) {
			return nil, bad("%s: size %d of %d", typ, size, len(b))
		}
		out = append(out, box{typ: typ, body: b[hdr:size]})
		b = b[size:]
		if len(out) > maxItems {
			return nil, bad("more than %d boxes", maxItems)
		}
	}
	return out, nil
}

// fullBox splits a full box's version and flags from its payload.
func fullBox(b box) (version uint8, flags uint32, body []byte, err error) {
	if len(b.body) < 4 {
		return 0, 0, nil, bad("%s: no version", b.typ)
	}
	v := binary.BigEndian.Uint32(b.body)
	return uint8(v >> 24), v & 0xFFFFFF, b.body[4:], nil
}

// readMeta finds the top-level meta box of the file and returns its
// payload (after version and flags), read whole but bounded.
func readMeta(r io.ReaderAt, size int64) ([]byte, error) {
	var off int64
	for n := 0; off+8 <= size; n++ {
		if n >= maxTopBoxes {
			return nil, bad("no meta in %d boxes", maxTopBoxes)
		}
		var h [16]byte
		if _, err := r.ReadAt(h[:8], off); err != nil {
			return nil, fmt.Errorf("read box: %w", err)
		}
		bsize, hdr := int64(binary.BigEndian.Uint32(h[:])), int64(8)
		switch bsize {
		case 0:
			bsize = size - off
		case 1:
			if _, err := r.ReadAt(h[8:16], off+8); err != nil {
				return nil, fmt.Errorf("read box: %w", err)
			}
			u := binary.BigEndian.Uint64(h[8:])
			if u > uint64(size) {
				return nil, bad("box of %d bytes in a file of %d", u, size)
			}
			bsize, hdr = int64(u), 16
		}
		if bsize < hdr || bsize > size-off {
			return nil, bad("%q: size %d at %d", h[4:8], bsize, off)
		}
		if n == 0 && string(h[4:8]) != "ftyp" {
			return nil, bad("no ftyp")
		}
		if string(h[4:8]) == "meta" {
			if bsize-hdr > maxMeta {
				return nil, bad("meta of %d bytes", bsize-hdr)
			}
			b := make([]byte, bsize-hdr)
			if _, err := r.ReadAt(b, off+hdr); err != nil {
				return nil, fmt.Errorf("read meta: %w", err)
			}
			if len(b) < 4 {
				return nil, bad("meta: no version")
			}
			return b[4:], nil
		}
		off += bsize
	}
	return nil, bad("no meta box")
}

// extent is one piece of an item's data.
type extent struct {
	idat        bool // construction method 1: offset into idat
	off, length uint64
}

// meta holds the parsed boxes of a meta box that Convert needs.
type meta struct {
	primary uint32
	types   map[uint32]string   // iinf: item type by ID
	locs    map[uint32][]extent // iloc
	props   []box               // ipco, index 1 is props[0]
	assoc   map[uint32][]int    // ipma: property indexes (1-based) by item
	cdsc    map[uint32][]uint32 // iref cdsc: described item → metadata items
	idat    []byte
}

// parseMeta reads the boxes of the meta payload.
func parseMeta(b []byte) (*meta, error) {
	bs, err := boxes(b)
	if err != nil {
		return nil, err
	}
	m := &meta{types: map[uint32]string{}, locs: map[uint32][]extent{}, assoc: map[uint32][]int{}, cdsc: map[uint32][]uint32{}}
	havePitm := false
	for _, x := range bs {
		switch x.typ {
		case "pitm":
			v, _, body, err := fullBox(x)
			if err != nil {
				return nil, err
			}
			if m.primary, err = readID(body, v > 0); err != nil {
				return nil, fmt.Errorf("pitm: %w", err)
			}
			havePitm = true
		case "iinf":
			err = m.parseIinf(x)
		case "iloc":
			err = m.parseIloc(x)
		case "iprp":
			err = m.parseIprp(x)
		case "iref":
			err = m.parseIref(x)
		case "idat":
			m.idat = x.body
		}
		if err != nil {
			return nil, err
		}
	}
	if !havePitm {
		return nil, bad("no pitm")
	}
	return m, nil
}

func readID(b []byte, wide bool) (uint32, error) {
	if wide {
		if len(b) < 4 {
			return 0, bad("item ID cut short")
		}
		return binary.BigEndian.Uint32(b), nil
	}
	if len(b) < 2 {
		return 0, bad("item ID cut short")
	}
	return uint32(binary.BigEndian.Uint16(b)), nil
}

func (m *meta) parseIinf(x box) error {
	v, _, body, err := fullBox(x)
	if err != nil {
		return err
	}
	n := 2
	if v > 0 {
		n = 4
	}
	if len(body) < n {
		return bad("iinf cut short")
	}
	entries, err := boxes(body[n:])
	if err != nil {
		return fmt.Errorf("iinf: %w", err)
	}
	for _, e := range entries {
		if e.typ != "infe" {
			continue
		}
		ev, _, eb, err := fullBox(e)
		if err != nil {
			return err
		}
		if ev < 2 {
			continue // versions 0 and 1 have no item type
		}
		id, err := readID(eb, ev > 2)
		if err != nil {
			return fmt.Errorf("infe: %w", err)
		}
		at := 4 // u16 ID + u16 protection index
		if ev > 2 {
			at = 6
		}
		if len(eb) < at+4 {
			return bad("infe %d cut short", id)
		}
		m.types[id] = string(eb[at : at+4])
	}
	return nil
}
