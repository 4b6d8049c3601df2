package hashstore

import (
	"bytes"
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

// Real sample files for the sniffing tests. Images are encoded here with
// Go's encoders; the audio and video files in testdata/ were made once
// with ffmpeg (see testdata/README).

func testImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 16, 12))
	for y := range 12 {
		for x := range 16 {
			img.Set(x, y, color.RGBA{uint8(x * 16), uint8(y * 20), 128, 255})
		}
	}
	return img
}

func pngBytes(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, testImage()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(), &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gifBytes(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, testImage(), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withPNGChunk inserts a chunk right after IHDR (8 bytes of signature plus
// the 25-byte IHDR chunk), with a correct CRC so decoders accept it.
func withPNGChunk(t testing.TB, p []byte, typ string, data []byte) []byte {
	t.Helper()
	const afterIHDR = 8 + 25
	if string(p[12:16]) != "IHDR" {
		t.Fatal("not a PNG starting with IHDR")
	}
	var c bytes.Buffer
	binary.Write(&c, binary.BigEndian, uint32(len(data)))
	c.WriteString(typ)
	c.Write(data)
	binary.Write(&c, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return splice(p, afterIHDR, c.Bytes())
}

// xmpPacket is an APP1 payload as cameras and editors write it.
const xmpPacket = "http://ns.adobe.com/xap/1.0/\x00" +
	`<?xpacket begin="` + "\ufeff" + `" id="W5M0MpCehiHzreSzNTczkc9d"?>` + "\n" +
	`<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 5.5.0">` + "\n" +
	` <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">` + "\n" +
	`  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">` + "\n" +
	`   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Sunset</rdf:li></rdf:Alt></dc:title>` + "\n" +
	`  </rdf:Description>` + "\n" +
	` </rdf:RDF>` + "\n" +
	`</x:xmpmeta>` + "\n" +
	`<?xpacket end="w"?>`

// withMP4Box inserts a box right after the leading ftyp box.
func withMP4Box(t testing.TB, m []byte, typ string, data []byte) []byte {
	t.Helper()
	if string(m[4:8]) != "ftyp" {
		t.Fatal("not an MP4 starting with ftyp")
	}
	end := int(binary.BigEndian.Uint32(m[:4]))
	box := binary.BigEndian.AppendUint32(nil, uint32(8+len(data)))
	box = append(box, typ...)
	return splice(m, end, append(box, data...))
}

func splice(b []byte, at int, insert []byte) []byte {
	out := append([]byte{}, b[:at]...)
	out = append(out, insert...)
	return append(out, b[at:]...)
}

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
