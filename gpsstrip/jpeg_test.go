package gpsstrip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
)

// xmpOf returns the x:xmpmeta element of b, for parsing.
func xmpOf(t *testing.T, b []byte) []byte {
	t.Helper()
	i := bytes.Index(b, []byte("<x:xmpmeta"))
	j := bytes.Index(b, []byte("</x:xmpmeta>"))
	if i < 0 || j < i {
		t.Fatalf("no XMP packet found")
	}
	return b[i : j+len("</x:xmpmeta>")]
}

// tiffOf returns the TIFF block after the first "Exif\0\0" header in b.
func tiffOf(t *testing.T, b []byte) []byte {
	t.Helper()
	i := bytes.Index(b, exifHeader)
	if i < 0 {
		t.Fatalf("no EXIF found")
	}
	return b[i+len(exifHeader):]
}

func TestStripJPEG(t *testing.T) {
	xmpNS := "http://ns.adobe.com/xap/1.0/\x00"
	tests := []struct {
		name     string
		segs     [][]byte
		wantEXIF bool
		wantXMP  bool
	}{
		{name: "exif little-endian", segs: [][]byte{app1("Exif\x00\x00", exifTIFF(binary.LittleEndian, true))}, wantEXIF: true},
		{name: "exif big-endian", segs: [][]byte{app1("Exif\x00\x00", exifTIFF(binary.BigEndian, true))}, wantEXIF: true},
		{name: "xmp", segs: [][]byte{app1(xmpNS, xmpPacket(true))}, wantXMP: true},
		{name: "exif and xmp after JFIF", segs: [][]byte{
			append([]byte{0xE0}, "JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"...),
			app1("Exif\x00\x00", exifTIFF(binary.BigEndian, true)),
			app1(xmpNS, xmpPacket(true)),
		}, wantEXIF: true, wantXMP: true},
		{name: "xmp in photoshop APP13", segs: [][]byte{
			append(append([]byte{0xED}, "Photoshop 3.0\x008BIM\x04\x24\x00\x00"...), xmpPacket(true)...),
		}, wantXMP: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := jpegWith(t, tt.segs...)
			if tt.wantEXIF {
				// The parser used for checking does see the planted location.
				if gps, _, _ := exifTags(t, tiffOf(t, in)); len(gps) != 7 {
					t.Fatalf("planted GPS tags = %v, want 7", gps)
				}
			}
			out := assertStripped(t, in, "image/jpeg")
			assertSamePixels(t, in, out)
			if tt.wantEXIF {
				checkEXIF(t, tiffOf(t, out))
			}
			if tt.wantXMP {
				checkXMP(t, xmpOf(t, out))
			}
			// The scan and everything after it are untouched.
			sos := bytes.Index(in, []byte{0xFF, 0xDA})
			if !bytes.Equal(in[sos:], out[sos:]) {
				t.Errorf("image data changed")
			}
		})
	}
}

func TestStripJPEGWithoutLocation(t *testing.T) {
	tests := []struct {
		name string
		segs [][]byte
	}{
		{name: "bare"},
		{name: "exif without gps II", segs: [][]byte{app1("Exif\x00\x00", exifTIFF(binary.LittleEndian, false))}},
		{name: "exif without gps MM", segs: [][]byte{app1("Exif\x00\x00", exifTIFF(binary.BigEndian, false))}},
		{name: "xmp without gps", segs: [][]byte{app1("http://ns.adobe.com/xap/1.0/\x00", xmpPacket(false))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertUntouched(t, jpegWith(t, tt.segs...), "image/jpeg")
		})
	}
}

// TestStripJPEGExtendedXMP splits a GPS element across two extended XMP
// segments; it must be found in the reassembled packet.
func TestStripJPEGExtendedXMP(t *testing.T) {
	ext := xmpOf(t, xmpPacket(true))
	cut := bytes.Index(ext, []byte("GPSAlt")) + 3
	guid := "0123456789ABCDEF0123456789ABCDEF"
	chunk := func(off int, data []byte) []byte {
		p := append([]byte(guid), binary.BigEndian.AppendUint32(nil, uint32(len(ext)))...)
		p = binary.BigEndian.AppendUint32(p, uint32(off))
		return app1(string(xmpExtHeader), append(p, data...))
	}
	main := bytes.Replace(xmpPacket(false), []byte(`tiff:Orientation="6"`),
		[]byte(`tiff:Orientation="6" xmpNote:HasExtendedXMP="`+guid+`" xmlns:xmpNote="http://ns.adobe.com/xmp/note/"`), 1)
	in := jpegWith(t,
		app1("http://ns.adobe.com/xap/1.0/\x00", main),
		chunk(cut, ext[cut:]), // out of order on purpose
		chunk(0, ext[:cut]))
	out := assertStripped(t, in, "image/jpeg")
	assertSamePixels(t, in, out)

	// Reassemble as a reader would and parse.
	got := make([]byte, len(ext))
	marker := append(append([]byte(nil), xmpExtHeader...), guid...)
	for _, h := range []int{bytes.Index(out, marker), bytes.LastIndex(out, marker)} {
		at := h + len(xmpExtHeader)
		off := binary.BigEndian.Uint32(out[at+36:])
		seglen := int(binary.BigEndian.Uint16(out[at-len(xmpExtHeader)-2:]))
		copy(got[off:], out[at+40:at-len(xmpExtHeader)-2+seglen])
	}
	checkXMP(t, got)
}

// TestStripJPEGMPF cleans the EXIF of a secondary image that an MPF index
// points at, after the primary image's data.
func TestStripJPEGMPF(t *testing.T) {
	second := jpegWith(t, app1("Exif\x00\x00", exifTIFF(binary.BigEndian, true)))
	// MPF index: IFD with one MPEntry tag of two 16-byte entries.
	mpfIndex := func(secondOff uint32) []byte {
		bo := binary.BigEndian
		entries := make([]byte, 32)
		bo.PutUint32(entries[4:], 1000) // primary: size, offset 0
		bo.PutUint32(entries[16+4:], uint32(len(second)))
		bo.PutUint32(entries[16+8:], secondOff)
		return buildTIFF(bo, []tiffField{{tag: 0xB002, typ: 7, count: 32, data: entries}})
	}
	mpfSeg := func(off uint32) []byte { return append(append([]byte{0xE2}, mpfHeader...), mpfIndex(off)...) }
	probe := jpegWith(t, mpfSeg(0))
	tiffStart := bytes.Index(probe, mpfHeader) + len(mpfHeader)
	in := append(jpegWith(t, mpfSeg(uint32(len(probe)-tiffStart))), second...)
	out := assertStripped(t, in, "image/jpeg")
	checkEXIF(t, tiffOf(t, out[len(probe):]))
}

func TestStripJPEGMalformed(t *testing.T) {
	good := jpegWith(t, app1("Exif\x00\x00", exifTIFF(binary.LittleEndian, true)))
	exifAt := bytes.Index(good, exifHeader) + len(exifHeader)
	badGPS := append([]byte(nil), good...)
	// Point the GPS IFD pointer far outside the block.
	tiff := badGPS[exifAt:]
	n := int(binary.LittleEndian.Uint16(tiff[8:]))
	for i := 0; i < n; i++ {
		e := tiff[10+12*i:]
		if binary.LittleEndian.Uint16(e) == tagGPSIFD {
			binary.LittleEndian.PutUint32(e[8:], 60000)
		}
	}
	tests := []struct {
		name string
		in   []byte
	}{
		{name: "not a jpeg", in: []byte("GIF89a and then some")},
		{name: "truncated in exif", in: good[:exifAt+20]},
		{name: "bad byte order", in: bytes.Replace(good, []byte("Exif\x00\x00II"), []byte("Exif\x00\x00XX"), 1)},
		{name: "gps ifd out of range", in: badGPS},
		{name: "unterminated gps element", in: jpegWith(t, app1("http://ns.adobe.com/xap/1.0/\x00",
			[]byte(`<x:xmpmeta><exif:GPSLatitude>51,30N`)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed, err := stripBytes(t, tt.in, "image/jpeg")
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
			if changed || !bytes.Equal(out, tt.in) {
				t.Errorf("file changed on error")
			}
		})
	}
}

func ExampleStrip() {
	fmt.Println("see TestStripJPEG")
	// Output: see TestStripJPEG
}
