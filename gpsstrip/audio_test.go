package gpsstrip

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// id3Frame encodes an ID3v2.3 frame.
func id3Frame(id string, data []byte) []byte {
	f := append([]byte(id), binary.BigEndian.AppendUint32(nil, uint32(len(data)))...)
	return append(append(f, 0, 0), data...)
}

// id3Tag wraps frames in an ID3v2.3 tag with padding, before a fake MPEG frame.
func id3Tag(frames ...[]byte) []byte {
	body := bytes.Join(frames, nil)
	body = append(body, make([]byte, 64)...) // padding
	n := len(body)
	h := []byte{'I', 'D', '3', 3, 0, 0, byte(n >> 21 & 0x7f), byte(n >> 14 & 0x7f), byte(n >> 7 & 0x7f), byte(n & 0x7f)}
	return append(append(h, body...), 0xFF, 0xFB, 0x90, 0x64, 0, 0, 0, 0)
}

func TestStripMP3(t *testing.T) {
	utf16 := []byte{1, 0xFF, 0xFE}
	for _, c := range "location" {
		utf16 = append(utf16, byte(c), 0)
	}
	utf16 = append(utf16, 0, 0, 0xFF, 0xFE)
	for _, c := range iso6709 {
		utf16 = append(utf16, byte(c), 0)
	}
	cover := bytes.Repeat([]byte{0x89}, 4000)
	in := id3Tag(
		id3Frame("TIT2", []byte("\x00hello")),
		id3Frame("TXXX", []byte("\x00location\x00"+iso6709)),
		id3Frame("TXXX", utf16),
		id3Frame("TXXX", []byte("\x00mood\x00calm")),
		id3Frame("APIC", append([]byte("\x00image/png\x00\x03\x00"), cover...)),
		id3Frame("PRIV", append([]byte("XMP\x00"), xmpPacket(true)...)))
	if !bytes.Contains(in, []byte{'+', 0, '5', 0, '1', 0}) {
		t.Fatal("UTF-16 location not planted")
	}
	out := assertStripped(t, in, "audio/mpeg")
	if bytes.Contains(out, []byte{'+', 0, '5', 0, '1', 0}) {
		t.Errorf("UTF-16 location survives")
	}
	for _, keep := range [][]byte{[]byte("hello"), []byte("mood\x00calm"), cover} {
		if !bytes.Contains(out, keep) {
			t.Errorf("%.20q lost", keep)
		}
	}
	checkXMP(t, xmpOf(t, out))
	assertUntouched(t, id3Tag(id3Frame("TIT2", []byte("\x00hello"))), "audio/mpeg")
	assertUntouched(t, []byte{0xFF, 0xFB, 0x90, 0x64, 0, 0}, "audio/mpeg")
}

// ebmlEl encodes a Matroska element with an 8-byte size.
func ebmlEl(id uint32, children ...[]byte) []byte {
	var b []byte
	for s := 24; s >= 0; s -= 8 {
		if c := byte(id >> s); c != 0 || len(b) > 0 {
			b = append(b, c)
		}
	}
	body := bytes.Join(children, nil)
	b = append(b, 0x01)
	return append(append(b, binary.BigEndian.AppendUint64(nil, uint64(len(body)))[1:]...), body...)
}

func simpleTag(name, value string) []byte {
	return ebmlEl(simpleTagID, ebmlEl(tagNameID, []byte(name)), ebmlEl(tagStringID, []byte(value)))
}

func TestStripWebM(t *testing.T) {
	// A live-style cluster of unknown size comes before the tags.
	cluster := append([]byte{0x1F, 0x43, 0xB6, 0x75, 0xFF}, ebmlEl(0xE7, []byte{0})...)
	cluster = append(cluster, ebmlEl(0xA3, bytes.Repeat([]byte("frame"), 50))...)
	in := bytes.Join([][]byte{
		ebmlEl(ebmlHeaderID, ebmlEl(0x4282, []byte("webm"))),
		ebmlEl(segmentID,
			ebmlEl(0x1549A966, ebmlEl(0x4D80, []byte("Lavf"))),
			cluster,
			ebmlEl(tagsID,
				ebmlEl(tagID, simpleTag("TITLE", "hello"), simpleTag("LOCATION", iso6709)),
				ebmlEl(tagID, ebmlEl(simpleTagID, ebmlEl(tagNameID, []byte("PLACE")), simpleTag("LOCATION-eng", "+51.50740+000.1278/"))))),
	}, nil)
	out := assertStripped(t, in, "video/webm")
	if !bytes.Contains(out, []byte("hello")) || !bytes.Contains(out, bytes.Repeat([]byte("frame"), 50)) {
		t.Errorf("other tags or media data lost")
	}
	assertUntouched(t, bytes.Replace(in, []byte("LOCATION"), []byte("COMMENTS"), -1), "video/webm")
}

// oggPage encodes one page; the CRC is computed bit by bit, independently
// of the table the package uses.
func oggPage(flags byte, serial, seq uint32, lacing, body []byte) []byte {
	p := append([]byte("OggS\x00"), flags)
	p = append(p, make([]byte, 8)...)
	p = binary.LittleEndian.AppendUint32(p, serial)
	p = binary.LittleEndian.AppendUint32(p, seq)
	p = append(p, 0, 0, 0, 0, byte(len(lacing)))
	p = append(append(p, lacing...), body...)
	binary.LittleEndian.PutUint32(p[22:], bitwiseOggCRC(p))
	return p
}

func bitwiseOggCRC(b []byte) uint32 {
	var crc uint32
	for _, c := range b {
		crc ^= uint32(c) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// checkOggCRCs verifies every page checksum of an Ogg file.
func checkOggCRCs(t *testing.T, b []byte) {
	t.Helper()
	for off := 0; off < len(b); {
		n := int(b[off+26])
		size := 27 + n
		for _, l := range b[off+27 : off+27+n] {
			size += int(l)
		}
		page := append([]byte(nil), b[off:off+size]...)
		want := binary.LittleEndian.Uint32(page[22:])
		binary.LittleEndian.PutUint32(page[22:], 0)
		if got := bitwiseOggCRC(page); got != want {
			t.Errorf("page at %d: CRC %08x, stored %08x", off, got, want)
		}
		off += size
	}
}

// oggFile is a Vorbis-like Ogg stream whose comment packet spans two
// pages, with the location value across the page boundary.
func oggFile() (file, comment []byte) {
	ident := append([]byte("\x01vorbis"), make([]byte, 23)...)
	comments := [][]byte{[]byte("TITLE=hello"), []byte("location=" + iso6709), []byte("ARTIST=me")}
	// A long vendor string puts the location across the 255-byte page cut.
	vendor := "Lavf" + string(bytes.Repeat([]byte("x"), 198))
	comment = append([]byte("\x03vorbis"), binary.LittleEndian.AppendUint32(nil, uint32(len(vendor)))...)
	comment = append(comment, vendor...)
	comment = binary.LittleEndian.AppendUint32(comment, uint32(len(comments)))
	for _, c := range comments {
		comment = append(binary.LittleEndian.AppendUint32(comment, uint32(len(c))), c...)
	}
	comment = append(comment, 1) // framing bit
	file = bytes.Join([][]byte{
		oggPage(2, 7, 0, []byte{byte(len(ident))}, ident),
		oggPage(0, 7, 1, []byte{255}, comment[:255]),
		oggPage(1, 7, 2, []byte{byte(len(comment) - 255)}, comment[255:]),
		oggPage(0, 7, 3, []byte{4}, []byte("data")),
	}, nil)
	return file, comment
}

func TestStripOgg(t *testing.T) {
	in, comment := oggFile()
	if at := bytes.Index(comment, []byte(iso6709)); at > 255 || at+len(iso6709) < 255 || len(comment) >= 510 {
		t.Fatalf("location at %d of %d bytes does not straddle the page cut", at, len(comment))
	}
	checkOggCRCs(t, in)
	out := assertStripped(t, in, "audio/ogg")
	checkOggCRCs(t, out)
	for _, keep := range []string{"TITLE=hello", "ARTIST=me", "location="} {
		if !bytes.Contains(out, []byte(keep)) {
			t.Errorf("%q lost", keep)
		}
	}
	assertUntouched(t, bytes.Replace(in, []byte("location="), []byte("COMMENTS="), 1), "audio/ogg")
}
