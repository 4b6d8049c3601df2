package thumbs

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"spano/hashstore"
)

// Structure checks. Every image is walked from its first byte to its last
// before anything is decoded: the walk proves the file is what it claims
// (and not truncated), reads what decoding will cost, and hands every
// metadata block to the markup check. An image that needs no thumbnail is
// never decoded at all; for the others the walk refuses decode bombs
// (too many scans, too much memory) before the decoder sees them.

// maxScans is the most scans a progressive JPEG may have: libjpeg-turbo's
// limit. Real encoders write about 10; each scan makes the standard
// library's decoder revisit every coefficient.
const maxScans = 100

// errStructure marks a structure fault; callers wrap it in ErrUndecodable.
var errStructure = errors.New("malformed")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errStructure, fmt.Sprintf(format, args...))
}

// component is one colour component of a JPEG frame.
type component struct{ h, v int }

// jpegInfo is what walkJPEG learns.
type jpegInfo struct {
	width, height int
	progressive   bool
	components    []component
	scans         int
	icc           [][]byte // APP2 ICC_PROFILE payloads, in file order
}

// decodeBytes estimates what the standard library's decoder allocates:
// one plane per component at its sampling, and for a progressive image
// its coefficients too (64 int32 per 8×8 block: 4 bytes a sample).
func (j jpegInfo) decodeBytes() int64 {
	hmax, vmax := 1, 1
	for _, c := range j.components {
		hmax, vmax = max(hmax, c.h), max(vmax, c.v)
	}
	var n int64
	for _, c := range j.components {
		w := int64((j.width*c.h + hmax - 1) / hmax)
		h := int64((j.height*c.v + vmax - 1) / vmax)
		n += w * h
		if j.progressive {
			n += ((w + 7) / 8 * 8) * ((h + 7) / 8 * 8) * 4
		}
	}
	return n
}

// walkJPEG reads a JPEG from SOI to EOI: every marker segment, and the
// entropy-coded data of every scan (skipped at memchr speed). It requires
// one frame header before the first scan, at least one scan and a final
// EOI, refuses more than maxScans scans, and checks every APPn and COM
// segment for markup.
func walkJPEG(r io.Reader) (jpegInfo, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var info jpegInfo
	var soi [2]byte
	if _, err := io.ReadFull(br, soi[:]); err != nil || soi != [2]byte{0xff, 0xd8} {
		return info, malformed("jpeg: no SOI")
	}
	seg := make([]byte, 0, 1<<16)
	var marker byte // set by skipEntropy, which reads the marker after a scan
	for {
		if marker == 0 {
			var err error
			if marker, err = nextMarker(br); err != nil {
				return info, err
			}
		}
		switch {
		case marker == 0xd9: // EOI
			if info.scans == 0 {
				return info, malformed("jpeg: EOI before any scan")
			}
			return info, nil
		case marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7):
			marker = 0
			continue // no length
		}
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			return info, malformed("jpeg: truncated marker %#x", marker)
		}
		n := int(binary.BigEndian.Uint16(l[:])) - 2
		if n < 0 {
			return info, malformed("jpeg: marker %#x length %d", marker, n+2)
		}
		seg = seg[:n]
		if _, err := io.ReadFull(br, seg); err != nil {
			return info, malformed("jpeg: truncated marker %#x segment", marker)
		}
		if err := info.segment(marker, seg); err != nil {
			return info, err
		}
		if marker == 0xda { // SOS: entropy-coded data follows
			m, err := skipEntropy(br)
			if err != nil {
				return info, err
			}
			marker = m
			continue
		}
		marker = 0
	}
}

// segment takes in one marker segment's payload.
func (j *jpegInfo) segment(marker byte, seg []byte) error {
	switch {
	case marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc:
		if j.components != nil {
			return malformed("jpeg: second frame header")
		}
		if len(seg) < 6 {
			return malformed("jpeg: short frame header")
		}
		j.progressive = marker == 0xc2 || marker == 0xc6 || marker == 0xca || marker == 0xce
		j.height = int(binary.BigEndian.Uint16(seg[1:]))
		j.width = int(binary.BigEndian.Uint16(seg[3:]))
		nc := int(seg[5])
		if nc == 0 || len(seg) < 6+3*nc {
			return malformed("jpeg: frame header with %d components in %d bytes", nc, len(seg))
		}
		for i := 0; i < nc; i++ {
			hv := seg[6+3*i+1]
			h, v := int(hv>>4), int(hv&15)
			if h < 1 || h > 4 || v < 1 || v > 4 {
				return malformed("jpeg: sampling factors %d×%d", h, v)
			}
			j.components = append(j.components, component{h, v})
		}
	case marker == 0xda:
		if j.components == nil {
			return malformed("jpeg: scan before frame header")
		}
		j.scans++
		if j.scans > maxScans {
			return malformed("jpeg: more than %d scans", maxScans)
		}
	case marker >= 0xe0 && marker <= 0xef || marker == 0xfe:
		if tag := hashstore.FindMarkup(seg); tag != "" {
			return fmt.Errorf("jpeg: marker %#x segment: %w <%s", marker, ErrMarkup, tag)
		}
		if rest, ok := bytes.CutPrefix(seg, iccMarker); ok && marker == 0xe2 {
			j.icc = append(j.icc, bytes.Clone(rest))
		}
	}
	return nil
}

// nextMarker reads a marker's 0xFF (and any fill bytes) and its code.
func nextMarker(br *bufio.Reader) (byte, error) {
	b, err := br.ReadByte()
	if err != nil {
		return 0, malformed("jpeg: truncated before EOI")
	}
	if b != 0xff {
		return 0, malformed("jpeg: %#x where a marker belongs", b)
	}
	for b == 0xff {
		if b, err = br.ReadByte(); err != nil {
			return 0, malformed("jpeg: truncated before EOI")
		}
	}
	if b == 0 {
		return 0, malformed("jpeg: stuffed byte where a marker belongs")
	}
	return b, nil
}

// skipEntropy reads past a scan's entropy-coded data and returns the
// first marker that is not a restart marker or a stuffed 0xFF00.
func skipEntropy(br *bufio.Reader) (byte, error) {
	for {
		if _, err := br.ReadSlice(0xff); err != nil {
			if err == bufio.ErrBufferFull {
				continue
			}
			return 0, malformed("jpeg: truncated scan")
		}
		b, err := br.ReadByte()
		for err == nil && b == 0xff { // fill bytes
			b, err = br.ReadByte()
		}
		if err != nil {
			return 0, malformed("jpeg: truncated scan")
		}
		if b != 0 && (b < 0xd0 || b > 0xd7) {
			return b, nil
		}
	}
}
