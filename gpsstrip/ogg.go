package gpsstrip

import (
	"bytes"
	"context"
	"encoding/binary"
)

// maxOggPages bounds the pages read while looking for comment headers,
// which follow the first page of each stream.
const maxOggPages = 1024

// oggCommentPrefix maps a stream's identification-header magic to the
// magic of its comment header, which comes as the stream's second packet.
var oggCommentPrefix = []struct{ ident, comment string }{
	{"\x01vorbis", "\x03vorbis"},
	{"OpusHead", "OpusTags"},
	{"\x80theora", "\x81theora"},
	{"Speex   ", ""},
	{"\x7fFLAC", "\x04"}, // metadata block header: type 4, then a 3-byte length
}

// planOgg blanks location comments in the comment headers of an Ogg file
// (Vorbis, Opus, Theora, Speex, FLAC). Vorbis comments have no GPS field,
// but ffmpeg copies a video's location into a LOCATION comment (an ISO
// 6709 string) when converting. Values of location-named comments are
// overwritten with spaces and the CRC of every touched page is renewed.
// Only the header pages at the start of the file are read.
func planOgg(ctx context.Context, e *editor) error {
	streams := map[uint32]*oggStream{}
	var pages [][]byte // page buffers, edited in place
	var offs []int64
	off, kept := int64(0), int64(0)
	for n := 0; off < e.size; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n > maxOggPages {
			return malformed("ogg: comment headers not found in %d pages", maxOggPages)
		}
		h, lacing, page, err := readOggPage(e, off)
		if err != nil {
			return err
		}
		serial := binary.LittleEndian.Uint32(h[14:])
		s := streams[serial]
		if s == nil {
			if h[5]&0x02 == 0 { // not a first page: all headers are behind us
				break
			}
			s = &oggStream{}
			streams[serial] = s
		}
		if kept += int64(len(page)); kept > maxBlock {
			return malformed("ogg: comment headers not found in %d bytes", maxBlock)
		}
		pages, offs = append(pages, page), append(offs, off)
		s.take(page, lacing)
		off += int64(len(page))
		if h[5]&0x02 == 0 && allOggDone(streams) {
			break
		}
	}
	return rewriteOggPages(e, pages, offs)
}

// oggStream is one logical stream's headers as planOgg reads them.
type oggStream struct {
	prefix  string
	packets int      // packets completed so far
	segs    [][]byte // pieces of the packet being assembled, slices of pages
	done    bool
}

// readOggPage reads the page at off: its 27-byte header, its lacing
// values and the whole page.
func readOggPage(e *editor, off int64) (h, lacing, page []byte, err error) {
	h, err = e.read(off, 27)
	if err != nil || string(h[:4]) != "OggS" {
		return nil, nil, nil, malformed("ogg: no page at %d", off)
	}
	nseg := int64(h[26])
	if lacing, err = e.read(off+27, nseg); err != nil {
		return nil, nil, nil, err
	}
	var body int64
	for _, l := range lacing {
		body += int64(l)
	}
	if page, err = e.read(off, 27+nseg+body); err != nil {
		return nil, nil, nil, err
	}
	return h, lacing, page, nil
}

// take assembles s's packets from the segments of page: the first names
// the codec, the second is its comment header, whose location comments
// are blanked in place (in the page buffers it was joined from).
func (s *oggStream) take(page, lacing []byte) {
	p := 27 + len(lacing)
	for _, l := range lacing {
		if s.done {
			return
		}
		s.segs = append(s.segs, page[p:p+int(l)])
		p += int(l)
		if l == 255 {
			continue // packet goes on
		}
		packet := bytes.Join(s.segs, nil)
		switch s.packets {
		case 0:
			s.prefix = "?"
			for _, c := range oggCommentPrefix {
				if bytes.HasPrefix(packet, []byte(c.ident)) {
					s.prefix = c.comment
				}
			}
			s.done = s.prefix == "?" // unknown codec: no comments to look at
		case 1:
			if bytes.HasPrefix(packet, []byte(s.prefix)) {
				blankLocationComments(packet[len(s.prefix):], s.prefix == "\x04")
				scatter(packet, s.segs)
			}
			s.done = true
		}
		s.packets++
		s.segs = nil
	}
}

func allOggDone(streams map[uint32]*oggStream) bool {
	for _, s := range streams {
		if !s.done {
			return false
		}
	}
	return true
}

// rewriteOggPages plans the pages that changed, each with its CRC made
// again.
func rewriteOggPages(e *editor, pages [][]byte, offs []int64) error {
	for i, page := range pages {
		old, err := e.read(offs[i], int64(len(page)))
		if err != nil {
			return err
		}
		if bytes.Equal(old, page) {
			continue
		}
		binary.LittleEndian.PutUint32(page[22:], 0)
		binary.LittleEndian.PutUint32(page[22:], oggCRC(page))
		e.update(offs[i], old, page)
	}
	return nil
}

// scatter copies packet back over the page slices it was joined from.
func scatter(packet []byte, segs [][]byte) {
	for _, s := range segs {
		packet = packet[copy(s, packet):]
	}
}

// blankLocationComments overwrites with spaces the values of
// location-named comments in a Vorbis comment block: vendor length and
// string, count, then length-prefixed KEY=value pairs, all little-endian.
// FLAC's block has a 3-byte length before it.
func blankLocationComments(b []byte, flac bool) {
	if flac {
		if len(b) < 3 {
			return
		}
		b = b[3:]
	}
	if len(b) < 4 {
		return
	}
	v := uint64(binary.LittleEndian.Uint32(b))
	if 4+v+4 > uint64(len(b)) {
		return
	}
	p := b[4+v:]
	count := binary.LittleEndian.Uint32(p)
	p = p[4:]
	for i := uint32(0); i < count && len(p) >= 4; i++ {
		n := uint64(binary.LittleEndian.Uint32(p))
		if 4+n > uint64(len(p)) {
			return
		}
		c := p[4 : 4+n]
		if k := bytes.IndexByte(c, '='); k >= 0 && isLocationKey(string(c[:k])) {
			blank(c[k+1:])
		}
		p = p[4+n:]
	}
}

// oggCRCTable is the table of Ogg's CRC-32: polynomial 0x04c11db7, not
// reflected, initial value and final XOR zero.
var oggCRCTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

// oggCRC computes a page checksum; the page's CRC field must be zero.
func oggCRC(page []byte) uint32 {
	var crc uint32
	for _, c := range page {
		crc = crc<<8 ^ oggCRCTable[byte(crc>>24)^c]
	}
	return crc
}
