package heic

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// idSize is the width of an item ID field: 4 bytes in the boxes'
// wider versions, 2 otherwise.
func idSize(wide bool) int {
	if wide {
		return 4
	}
	return 2
}

// uintN reads an n-byte big-endian unsigned integer (n is 0, 4 or 8 in
// iloc; 0 means the field is absent and reads as 0).
func uintN(b []byte, n int) (uint64, []byte, error) {
	if len(b) < n {
		return 0, nil, bad("iloc field cut short")
	}
	var v uint64
	for _, c := range b[:n] {
		v = v<<8 | uint64(c)
	}
	return v, b[n:], nil
}

func (m *meta) parseIloc(x box) error {
	v, _, b, err := fullBox(x)
	if err != nil {
		return err
	}
	if v > 2 || len(b) < 2 {
		return bad("iloc version %d", v)
	}
	offSize, lenSize, baseSize := int(b[0]>>4), int(b[0]&15), int(b[1]>>4)
	idxSize := 0
	if v > 0 {
		idxSize = int(b[1] & 15)
	}
	for _, s := range []int{offSize, lenSize, baseSize, idxSize} {
		if s != 0 && s != 4 && s != 8 {
			return bad("iloc field size %d", s)
		}
	}
	b = b[2:]
	var count uint64
	if count, b, err = uintN(b, idSize(v == 2)); err != nil {
		return err
	}
	if count > maxItems {
		return bad("iloc: %d items", count)
	}
	for range count {
		var id, method, base, n uint64
		if id, b, err = uintN(b, idSize(v == 2)); err != nil {
			return err
		}
		if v > 0 {
			if method, b, err = uintN(b, 2); err != nil {
				return err
			}
			method &= 15
		}
		if _, b, err = uintN(b, 2); err != nil { // data reference index
			return err
		}
		if base, b, err = uintN(b, baseSize); err != nil {
			return err
		}
		if n, b, err = uintN(b, 2); err != nil {
			return err
		}
		var ext []extent
		for range n {
			var off, length uint64
			if _, b, err = uintN(b, idxSize); err != nil {
				return err
			}
			if off, b, err = uintN(b, offSize); err != nil {
				return err
			}
			if length, b, err = uintN(b, lenSize); err != nil {
				return err
			}
			ext = append(ext, extent{idat: method == 1, off: base + off, length: length})
		}
		if method > 1 {
			ext = nil // item offsets into other items: not followed
		}
		m.locs[uint32(id)] = ext
	}
	return nil
}

func (m *meta) parseIprp(x box) error {
	bs, err := boxes(x.body)
	if err != nil {
		return fmt.Errorf("iprp: %w", err)
	}
	for _, y := range bs {
		switch y.typ {
		case "ipco":
			if m.props, err = boxes(y.body); err != nil {
				return fmt.Errorf("ipco: %w", err)
			}
		case "ipma":
			if err := m.parseIpma(y); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *meta) parseIpma(x box) error {
	v, flags, b, err := fullBox(x)
	if err != nil {
		return err
	}
	var count uint64
	if count, b, err = uintN(b, 4); err != nil {
		return err
	}
	if count > maxItems {
		return bad("ipma: %d items", count)
	}
	for range count {
		var id, n uint64
		if id, b, err = uintN(b, idSize(v > 0)); err != nil {
			return err
		}
		if n, b, err = uintN(b, 1); err != nil {
			return err
		}
		for range n {
			var a uint64
			if flags&1 != 0 {
				if a, b, err = uintN(b, 2); err != nil {
					return err
				}
				a &= 0x7FFF
			} else {
				if a, b, err = uintN(b, 1); err != nil {
					return err
				}
				a &= 0x7F
			}
			if a > 0 {
				m.assoc[uint32(id)] = append(m.assoc[uint32(id)], int(a))
			}
		}
	}
	return nil
}

func (m *meta) parseIref(x box) error {
	v, _, b, err := fullBox(x)
	if err != nil {
		return err
	}
	refs, err := boxes(b)
	if err != nil {
		return fmt.Errorf("iref: %w", err)
	}
	for _, r := range refs {
		if r.typ != "cdsc" {
			continue
		}
		p := r.body
		var from, n uint64
		w := idSize(v > 0)
		if from, p, err = uintN(p, w); err != nil {
			return err
		}
		if n, p, err = uintN(p, 2); err != nil {
			return err
		}
		for range n {
			var to uint64
			if to, p, err = uintN(p, w); err != nil {
				return err
			}
			// cdsc goes from the metadata item to the image it describes.
			m.cdsc[uint32(to)] = append(m.cdsc[uint32(to)], uint32(from))
		}
	}
	return nil
}

// describe gathers what Convert needs about the primary image: its size
// and transforms from its properties, its colour profile and its Exif.
func (m *meta) describe(r io.ReaderAt, size int64) (*primary, error) {
	p := &primary{id: m.primary, typ: m.types[m.primary], mirror: -1}
	for _, pr := range m.props {
		if pr.typ == "ispe" {
			w, h, err := ispe(pr)
			if err != nil {
				return nil, err
			}
			p.maxISPE = max(p.maxISPE, uint64(w)*uint64(h))
		}
	}
	for _, i := range m.assoc[m.primary] {
		if i > len(m.props) {
			return nil, bad("property %d of %d", i, len(m.props))
		}
		pr := m.props[i-1]
		switch pr.typ {
		case "ispe":
			var err error
			if p.width, p.height, err = ispe(pr); err != nil {
				return nil, err
			}
		case "irot":
			if len(pr.body) < 1 {
				return nil, bad("irot cut short")
			}
			p.rotation = int(pr.body[0] & 3)
		case "imir":
			if len(pr.body) < 1 {
				return nil, bad("imir cut short")
			}
			p.mirror = int(pr.body[0] & 1)
		case "colr":
			if len(pr.body) >= 4 && (string(pr.body[:4]) == "prof" || string(pr.body[:4]) == "rICC") {
				if len(pr.body)-4 > maxICC {
					return nil, bad("colr: ICC of %d bytes", len(pr.body)-4)
				}
				p.icc = pr.body[4:]
			}
		}
	}
	if p.width == 0 || p.height == 0 {
		return nil, bad("primary item %d has no ispe", m.primary)
	}
	for _, id := range m.cdsc[m.primary] {
		if m.types[id] != "Exif" {
			continue
		}
		data, err := m.read(r, size, id, maxExif)
		if err != nil {
			return nil, fmt.Errorf("exif item %d: %w", id, err)
		}
		// The item starts with the offset of the TIFF header after it.
		if len(data) < 4 || uint64(binary.BigEndian.Uint32(data)) > uint64(len(data)-4) {
			return nil, bad("exif item %d: header offset", id)
		}
		p.exif = data[4+binary.BigEndian.Uint32(data):]
		// Some writers give offset 0 and keep JPEG's "Exif\0\0" anyway.
		p.exif = bytes.TrimPrefix(p.exif, []byte("Exif\x00\x00"))
		break
	}
	return p, nil
}

func ispe(pr box) (w, h uint32, err error) {
	if len(pr.body) < 12 {
		return 0, 0, bad("ispe cut short")
	}
	return binary.BigEndian.Uint32(pr.body[4:]), binary.BigEndian.Uint32(pr.body[8:]), nil
}

// read returns an item's data, gathered from its extents, refusing more
// than limit bytes.
func (m *meta) read(r io.ReaderAt, size int64, id uint32, limit uint64) ([]byte, error) {
	ext, ok := m.locs[id]
	if !ok || len(ext) == 0 {
		return nil, bad("no location")
	}
	var total uint64
	for _, e := range ext {
		total += e.length
		if e.length == 0 || total > limit {
			return nil, bad("item data of %d+ bytes", total)
		}
	}
	out := make([]byte, 0, total)
	for _, e := range ext {
		if e.idat {
			if e.off > uint64(len(m.idat)) || e.length > uint64(len(m.idat))-e.off {
				return nil, bad("extent past idat")
			}
			out = append(out, m.idat[e.off:e.off+e.length]...)
			continue
		}
		if e.off > uint64(size) || e.length > uint64(size)-e.off {
			return nil, bad("extent past the file")
		}
		b := make([]byte, e.length)
		if _, err := r.ReadAt(b, int64(e.off)); err != nil {
			return nil, fmt.Errorf("read extent: %w", err)
		}
		out = append(out, b...)
	}
	return out, nil
}
