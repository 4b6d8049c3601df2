package gpsstrip

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// This file builds the test media: real images from the standard encoders,
// with metadata blocks assembled byte by byte around them.

// Coordinates planted in the test files; none may survive.
const (
	xmpLat     = "51,30.1234N"
	xmpLon     = "0,7.4012W"
	xmpAlt     = "1234/100"
	iso6709    = "+51.5074-000.1278+011.000/"
	gpsMarker  = "GPSLatitude"
	testMake   = "TestCam"
	testOrient = 6
)

// tiffField is one IFD entry; sub, when set, makes it a pointer to a sub-IFD.
type tiffField struct {
	tag, typ uint16
	count    uint32
	data     []byte
	sub      []tiffField
}

// buildTIFF lays out IFD0 and its sub-IFDs with their values after them.
func buildTIFF(bo binary.ByteOrder, ifd0 []tiffField) []byte {
	w := &tiffWriter{bo: bo}
	if bo == binary.ByteOrder(binary.LittleEndian) {
		w.b = []byte("II*\x00\x08\x00\x00\x00")
	} else {
		w.b = []byte("MM\x00*\x00\x00\x00\x08")
	}
	w.ifd(ifd0)
	return w.b
}

type tiffWriter struct {
	bo binary.ByteOrder
	b  []byte
}

func (w *tiffWriter) ifd(fields []tiffField) uint32 {
	off := len(w.b)
	w.b = append(w.b, make([]byte, 2+12*len(fields)+4)...)
	w.bo.PutUint16(w.b[off:], uint16(len(fields)))
	for i, f := range fields {
		e := off + 2 + 12*i
		w.bo.PutUint16(w.b[e:], f.tag)
		w.bo.PutUint16(w.b[e+2:], f.typ)
		w.bo.PutUint32(w.b[e+4:], f.count)
		switch {
		case f.sub != nil:
			sub := w.ifd(f.sub)
			w.bo.PutUint32(w.b[e+8:], sub)
		case len(f.data) <= 4:
			copy(w.b[e+8:e+12], f.data)
		default:
			v := len(w.b)
			w.b = append(w.b, f.data...)
			if len(w.b)%2 == 1 {
				w.b = append(w.b, 0)
			}
			w.bo.PutUint32(w.b[e+8:], uint32(v))
		}
	}
	return uint32(off)
}

func asciiField(tag uint16, s string) tiffField {
	return tiffField{tag: tag, typ: 2, count: uint32(len(s) + 1), data: append([]byte(s), 0)}
}

func shortField(bo binary.ByteOrder, tag uint16, v uint16) tiffField {
	d := make([]byte, 2)
	bo.PutUint16(d, v)
	return tiffField{tag: tag, typ: 3, count: 1, data: d}
}

func rationalField(bo binary.ByteOrder, tag uint16, v ...uint32) tiffField {
	d := make([]byte, 4*len(v))
	for i, x := range v {
		bo.PutUint32(d[4*i:], x)
	}
	return tiffField{tag: tag, typ: 5, count: uint32(len(v) / 2), data: d}
}

// gpsRationals are the planted latitude and longitude as EXIF encodes them.
func gpsRationals(bo binary.ByteOrder) (lat, lon []byte) {
	return rationalField(bo, 2, 51, 1, 30, 1, 12345, 1000).data, rationalField(bo, 4, 0, 1, 7, 1, 40123, 1000).data
}

// exifTIFF is a camera-like EXIF block: Make, Orientation, an Exif IFD and,
// when withGPS, a GPS IFD with position and altitude.
func exifTIFF(bo binary.ByteOrder, withGPS bool) []byte {
	lat, lon := gpsRationals(bo)
	ifd0 := []tiffField{
		asciiField(0x010F, testMake),
		shortField(bo, 0x0112, testOrient),
		{tag: tagExifIFD, typ: 4, count: 1, sub: []tiffField{
			asciiField(0x9003, "2024:05:06 07:08:09"),
		}},
	}
	if withGPS {
		ifd0 = append(ifd0, tiffField{tag: tagGPSIFD, typ: 4, count: 1, sub: []tiffField{
			{tag: 0, typ: 1, count: 4, data: []byte{2, 3, 0, 0}},
			asciiField(1, "N"),
			{tag: 2, typ: 5, count: 3, data: lat},
			asciiField(3, "W"),
			{tag: 4, typ: 5, count: 3, data: lon},
			{tag: 5, typ: 1, count: 1, data: []byte{0}},
			rationalField(bo, 6, 1234, 100),
		}})
	}
	return buildTIFF(bo, ifd0)
}

// xmpPacket is an XMP packet with orientation and make, and, when withGPS,
// GPS properties both as attributes and as elements.
func xmpPacket(withGPS bool) []byte {
	attrs, elems := "", ""
	if withGPS {
		attrs = ` exif:GPSLatitude="` + xmpLat + `"
    exif:GPSLongitude='` + xmpLon + `'
    geo:lat="51.5074" geo:long="-0.1278"`
		elems = `
   <exif:GPSAltitude>` + xmpAlt + `</exif:GPSAltitude>
   <exif:GPSVersionID rdf:parseType="Literal">2.3.0.0</exif:GPSVersionID>
   <exif:GPSTimeStamp/>
   <Iptc4xmpExt:LocationCreated>
    <rdf:Bag><rdf:li rdf:parseType="Resource">
     <Iptc4xmpExt:City>Springfield</Iptc4xmpExt:City>
     <exif:GPSLatitude>` + xmpLat + `</exif:GPSLatitude>
     <exif:GPSLongitude>` + xmpLon + `</exif:GPSLongitude>
    </rdf:li></rdf:Bag>
   </Iptc4xmpExt:LocationCreated>
   <drone-dji:GpsLatitude>+51.50740</drone-dji:GpsLatitude>`
	}
	return []byte(`<?xpacket begin="` + "\ufeff" + `" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:exif="http://ns.adobe.com/exif/1.0/"
    xmlns:tiff="http://ns.adobe.com/tiff/1.0/"
    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
    xmlns:drone-dji="http://www.dji.com/drone-dji/1.0/"
    xmlns:geo="http://www.w3.org/2003/01/geo/wgs84_pos#"
    tiff:Orientation="6"` + attrs + `>
   <tiff:Make>` + testMake + `</tiff:Make>` + elems + `
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>`)
}

// testImage is a small image with detail, so decoders have real data.
func testImage() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 32, 24))
	for y := 0; y < 24; y++ {
		for x := 0; x < 32; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 8), uint8(y * 10), uint8((x ^ y) * 9), 255})
		}
	}
	return img
}

// jpegWith encodes testImage as JPEG with the given APPn segments (marker
// byte, payload) inserted after SOI.
func jpegWith(t testing.TB, segs ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, testImage(), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	enc := buf.Bytes()
	out := append([]byte(nil), enc[:2]...)
	for _, s := range segs {
		out = append(out, 0xFF, s[0], byte((len(s)+1)>>8), byte(len(s)+1))
		out = append(out, s[1:]...)
	}
	return append(out, enc[2:]...)
}

func app1(prefix string, data []byte) []byte {
	return append(append([]byte{0xE1}, prefix...), data...)
}

// pngChunk encodes one chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// pngWith encodes testImage as PNG with chunks inserted after IHDR and
// others appended after the image data, before IEND.
func pngWith(t testing.TB, before, after [][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, testImage()); err != nil {
		t.Fatal(err)
	}
	enc := buf.Bytes()
	ihdrEnd := 8 + 12 + 13
	out := append([]byte(nil), enc[:ihdrEnd]...)
	for _, c := range before {
		out = append(out, c...)
	}
	out = append(out, enc[ihdrEnd:len(enc)-12]...)
	for _, c := range after {
		out = append(out, c...)
	}
	return append(out, enc[len(enc)-12:]...)
}

func itxt(keyword string, text []byte) []byte {
	return append([]byte(keyword+"\x00\x00\x00\x00\x00"), text...)
}

// vp8lSolid is a lossless WebP bitstream of a w×h image of one colour:
// five single-symbol prefix codes, so the pixels take no bits at all.
func vp8lSolid(w, h int, c color.NRGBA) []byte {
	var bw bitWriter
	bw.put(0x2f, 8)
	bw.put(uint32(w-1), 14)
	bw.put(uint32(h-1), 14)
	bw.put(1, 1) // alpha used
	bw.put(0, 3) // version
	bw.put(0, 1) // no transform
	bw.put(0, 1) // no colour cache
	bw.put(0, 1) // no meta prefix codes
	for _, sym := range []uint8{c.G, c.R, c.B, c.A} {
		bw.put(1, 1) // simple code
		bw.put(0, 1) // one symbol
		bw.put(1, 1) // 8-bit symbol
		bw.put(uint32(sym), 8)
	}
	bw.put(1, 1) // distance code: simple, one 1-bit symbol 0
	bw.put(0, 1)
	bw.put(0, 1)
	bw.put(0, 1)
	return bw.bytes()
}

type bitWriter struct {
	b     []byte
	nbits uint
}

func (w *bitWriter) put(v uint32, n uint) {
	for i := uint(0); i < n; i++ {
		if w.nbits%8 == 0 {
			w.b = append(w.b, 0)
		}
		w.b[len(w.b)-1] |= byte((v>>i)&1) << (w.nbits % 8)
		w.nbits++
	}
}

func (w *bitWriter) bytes() []byte { return w.b }

func riffChunk(fourcc string, data []byte) []byte {
	c := append([]byte(fourcc), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	c = append(c, data...)
	if len(data)%2 == 1 {
		c = append(c, 0)
	}
	return c
}

// webpWith builds an extended WebP (VP8X) around a lossless 4×3 image,
// with the given chunks after the image data.
func webpWith(chunks ...[]byte) []byte {
	vp8x := make([]byte, 10)
	vp8x[0] = 0x10 | 0x08 | 0x04 // alpha, EXIF, XMP
	vp8x[4], vp8x[7] = 3, 2      // canvas 4×3, stored minus one
	body := append([]byte("WEBP"), riffChunk("VP8X", vp8x)...)
	body = append(body, riffChunk("VP8L", vp8lSolid(4, 3, color.NRGBA{10, 200, 30, 255}))...)
	for _, c := range chunks {
		body = append(body, c...)
	}
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

// gifXMPExtension wraps an XMP packet in the GIF application extension
// with the 258-byte magic trailer that keeps sub-block readers in step.
func gifXMPExtension(xmp []byte) []byte {
	ext := append([]byte{0x21, 0xFF, 11}, gifXMPApp...)
	ext = append(ext, xmp...)
	ext = append(ext, 1)
	for i := 0xFF; i >= 0; i-- {
		ext = append(ext, byte(i))
	}
	return append(ext, 0)
}

// gifWith encodes a paletted testImage as GIF with extensions inserted
// before the first image.
func gifWith(t testing.TB, exts ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := gif.Encode(&buf, testImage(), &gif.Options{NumColors: 16}); err != nil {
		t.Fatal(err)
	}
	enc := buf.Bytes()
	// Header, screen descriptor and global colour table, if any.
	head := 13
	if enc[10]&0x80 != 0 {
		head += 3 << (enc[10]&7 + 1)
	}
	out := append([]byte(nil), enc[:head]...)
	for _, e := range exts {
		out = append(out, e...)
	}
	return append(out, enc[head:]...)
}

// mp4Box encodes a box with a 32-bit size.
func mp4Box(typ string, children ...[]byte) []byte {
	var body []byte
	for _, c := range children {
		body = append(body, c...)
	}
	return append(append(binary.BigEndian.AppendUint32(nil, uint32(8+len(body))), typ...), body...)
}

// mp4Box64 encodes a box with a 64-bit size.
func mp4Box64(typ string, body []byte) []byte {
	b := append(binary.BigEndian.AppendUint32(nil, 1), typ...)
	b = binary.BigEndian.AppendUint64(b, uint64(16+len(body)))
	return append(b, body...)
}

func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// mp4Moov is a movie box with Apple-style location metadata: udta ©xyz,
// a track udta with a 3GPP loci box, and meta keys+ilst with an ISO 6709
// location key, a location-name key and a make key.
func mp4Moov(withGPS bool) []byte {
	mvhd := mp4Box("mvhd", make([]byte, 100))
	keyNames := []string{"com.apple.quicktime.make", "com.apple.quicktime.model"}
	if withGPS {
		keyNames = []string{"com.apple.quicktime.location.ISO6709", "com.apple.quicktime.make", "com.apple.quicktime.location.name"}
	}
	keys := u32(0)
	keys = append(keys, u32(uint32(len(keyNames)))...)
	for _, k := range keyNames {
		keys = append(keys, u32(uint32(8+len(k)))...)
		keys = append(keys, "mdta"...)
		keys = append(keys, k...)
	}
	dataBox := func(s string) []byte { return mp4Box("data", u32(1), u32(0), []byte(s)) }
	var items [][]byte
	for i, k := range keyNames {
		v := map[string]string{
			"com.apple.quicktime.location.ISO6709": iso6709,
			"com.apple.quicktime.make":             "Apple",
			"com.apple.quicktime.model":            "iPhone",
			"com.apple.quicktime.location.name":    "Home sweet home",
		}[k]
		items = append(items, mp4Box(string(u32(uint32(i+1))), dataBox(v)))
	}
	meta := mp4Box("meta",
		mp4Box("hdlr", make([]byte, 8), []byte("mdta"), make([]byte, 13)),
		mp4Box("keys", keys),
		mp4Box("ilst", items...))
	udta := [][]byte{mp4Box("\xa9mak", []byte{0, 5, 0x15, 0xc7}, []byte("Apple"))}
	trakUdta := [][]byte{mp4Box("name", []byte("track"))}
	if withGPS {
		udta = append(udta, mp4Box("\xa9xyz", []byte{0, byte(len(iso6709)), 0x15, 0xc7}, []byte(iso6709)))
		loci := append([]byte{0, 0, 0, 0, 0x15, 0xc7}, "Home\x00"...)
		loci = append(loci, 0)
		loci = append(loci, u32(0x00338000)...) // longitude, 16.16 fixed point
		loci = append(loci, u32(0x0033807f)...) // latitude
		loci = append(loci, u32(0x000b0000)...) // altitude
		loci = append(loci, "Earth\x00\x00"...)
		trakUdta = append(trakUdta, mp4Box("loci", loci))
	}
	trak := mp4Box("trak", mp4Box("tkhd", make([]byte, 84)), mp4Box("udta", trakUdta...))
	return mp4Box("moov", mvhd, trak, mp4Box("udta", udta...), meta)
}

func mp4Ftyp() []byte { return mp4Box("ftyp", []byte("qt  "), u32(0), []byte("qt  ")) }

// stripBytes runs Strip on data in a temporary file and returns the result.
func stripBytes(t testing.TB, data []byte, mimeType string) ([]byte, bool, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "upload")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	changed, err := Strip(context.Background(), p, mimeType)
	out, rerr := os.ReadFile(p)
	if rerr != nil {
		t.Fatal(rerr)
	}
	return out, changed, err
}
