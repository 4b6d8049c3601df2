package gpsstrip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	_ "golang.org/x/image/webp" // registers the decoder for assertSamePixels
)

// webpChunk returns the payload of the first chunk with the given FourCC.
func webpChunk(t *testing.T, b []byte, fourcc string) []byte {
	t.Helper()
	for off := 12; off+8 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off+4:]))
		if string(b[off:off+4]) == fourcc {
			return b[off+8 : off+8+n]
		}
		off += 8 + n + n&1
	}
	t.Fatalf("no %q chunk", fourcc)
	return nil
}

func TestStripWebP(t *testing.T) {
	tests := []struct {
		name     string
		chunks   [][]byte
		wantEXIF bool
		wantXMP  bool
	}{
		{name: "exif little-endian", chunks: [][]byte{riffChunk("EXIF", exifTIFF(binary.LittleEndian, true))}, wantEXIF: true},
		{name: "exif with header, big-endian", chunks: [][]byte{riffChunk("EXIF", append([]byte("Exif\x00\x00"), exifTIFF(binary.BigEndian, true)...))}, wantEXIF: true},
		{name: "xmp", chunks: [][]byte{riffChunk("XMP ", xmpPacket(true))}, wantXMP: true},
		{name: "odd-sized exif then xmp", chunks: [][]byte{
			riffChunk("EXIF", append(exifTIFF(binary.LittleEndian, true), 0)),
			riffChunk("XMP ", xmpPacket(true)),
		}, wantEXIF: true, wantXMP: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := webpWith(tt.chunks...)
			out := assertStripped(t, in, "image/webp")
			assertSamePixels(t, in, out)
			if !bytes.Equal(webpChunk(t, in, "VP8L"), webpChunk(t, out, "VP8L")) {
				t.Errorf("image data changed")
			}
			if tt.wantEXIF {
				checkEXIF(t, bytes.TrimPrefix(webpChunk(t, out, "EXIF"), exifHeader))
			}
			if tt.wantXMP {
				checkXMP(t, webpChunk(t, out, "XMP "))
			}
		})
	}
}

func TestStripWebPWithoutLocation(t *testing.T) {
	assertUntouched(t, webpWith(), "image/webp")
	assertUntouched(t, webpWith(riffChunk("EXIF", exifTIFF(binary.BigEndian, false)), riffChunk("XMP ", xmpPacket(false))), "image/webp")
}

func TestStripWebPMalformed(t *testing.T) {
	good := webpWith(riffChunk("EXIF", exifTIFF(binary.LittleEndian, true)))
	long := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(long[len(long)-len(exifTIFF(binary.LittleEndian, true))-4:], 1<<30)
	for name, in := range map[string][]byte{
		"not riff":            append([]byte("RIFX"), good[4:]...),
		"chunk past the end":  long,
		"exif with bad order": webpWith(riffChunk("EXIF", []byte("XX*\x00\x08\x00\x00\x00"))),
	} {
		t.Run(name, func(t *testing.T) {
			out, changed, err := stripBytes(t, in, "image/webp")
			if !errors.Is(err, ErrMalformed) || changed || !bytes.Equal(out, in) {
				t.Errorf("changed %v, err %v; want false, ErrMalformed, file untouched", changed, err)
			}
		})
	}
}
