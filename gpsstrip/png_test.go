package gpsstrip

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// pngChunks splits a PNG into chunks, checking every CRC.
func pngChunks(t *testing.T, b []byte) map[string][][]byte {
	t.Helper()
	out := map[string][][]byte{}
	for off := 8; off < len(b); {
		n := int(binary.BigEndian.Uint32(b[off:]))
		c := b[off+4 : off+8+n]
		if got, want := binary.BigEndian.Uint32(b[off+8+n:]), crc32.ChecksumIEEE(c); got != want {
			t.Errorf("chunk %q: CRC %08x, want %08x", c[:4], got, want)
		}
		out[string(c[:4])] = append(out[string(c[:4])], c[4:])
		off += 12 + n
	}
	return out
}

func zlibBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// rawProfile encodes data as ImageMagick's "Raw profile type" text.
func rawProfile(name string, data []byte) []byte {
	s := fmt.Sprintf("\n%s\n%8d\n", name, len(data))
	h := hex.EncodeToString(data)
	for len(h) > 72 {
		s += h[:72] + "\n"
		h = h[72:]
	}
	return []byte(s + h + "\n")
}

func TestStripPNG(t *testing.T) {
	xmpKey := "XML:com.adobe.xmp"
	tests := []struct {
		name        string
		before      [][]byte
		after       [][]byte
		wantEXIF    bool
		wantXMP     bool
		wantNeutral int // chunks turned into skIp
	}{
		{name: "eXIf little-endian", before: [][]byte{pngChunk("eXIf", exifTIFF(binary.LittleEndian, true))}, wantEXIF: true},
		{name: "eXIf big-endian with Exif header", before: [][]byte{pngChunk("eXIf", append([]byte("Exif\x00\x00"), exifTIFF(binary.BigEndian, true)...))}, wantEXIF: true},
		{name: "iTXt xmp", before: [][]byte{pngChunk("iTXt", itxt(xmpKey, xmpPacket(true)))}, wantXMP: true},
		{name: "eXIf and tEXt xmp after image data", after: [][]byte{
			pngChunk("eXIf", exifTIFF(binary.BigEndian, true)),
			pngChunk("tEXt", append([]byte(xmpKey+"\x00"), xmpPacket(true)...)),
		}, wantEXIF: true, wantXMP: true},
		{name: "compressed iTXt xmp", before: [][]byte{
			pngChunk("iTXt", append([]byte(xmpKey+"\x00\x01\x00\x00\x00"), zlibBytes(xmpPacket(true))...)),
		}, wantNeutral: 1},
		{name: "imagemagick raw exif profile", before: [][]byte{
			pngChunk("zTXt", append([]byte("Raw profile type exif\x00\x00"), zlibBytes(rawProfile("exif", append([]byte("Exif\x00\x00"), exifTIFF(binary.LittleEndian, true)...)))...)),
			pngChunk("tEXt", append([]byte("Raw profile type xmp\x00"), rawProfile("xmp", xmpPacket(true))...)),
		}, wantNeutral: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := pngWith(t, tt.before, tt.after)
			out := assertStripped(t, in, "image/png")
			assertSamePixels(t, in, out)
			chunks := pngChunks(t, out)
			if !bytes.Equal(bytes.Join(pngChunks(t, in)["IDAT"], nil), bytes.Join(chunks["IDAT"], nil)) {
				t.Errorf("image data changed")
			}
			if tt.wantEXIF {
				checkEXIF(t, bytes.TrimPrefix(chunks["eXIf"][0], exifHeader))
			}
			if tt.wantXMP {
				checkXMP(t, xmpOf(t, out))
			}
			if got := len(chunks[neutralType]); got != tt.wantNeutral {
				t.Errorf("%d neutralised chunks, want %d", got, tt.wantNeutral)
			}
			for _, c := range chunks[neutralType] {
				if len(bytes.Trim(c, "\x00")) != 0 {
					t.Errorf("neutralised chunk keeps data")
				}
			}
		})
	}
}

func TestStripPNGWithoutLocation(t *testing.T) {
	tests := []struct {
		name   string
		before [][]byte
	}{
		{name: "bare"},
		{name: "eXIf without gps", before: [][]byte{pngChunk("eXIf", exifTIFF(binary.LittleEndian, false))}},
		{name: "iTXt xmp without gps", before: [][]byte{pngChunk("iTXt", itxt("XML:com.adobe.xmp", xmpPacket(false)))}},
		{name: "compressed comment", before: [][]byte{pngChunk("zTXt", append([]byte("Comment\x00\x00"), zlibBytes([]byte("hello"))...))}},
		{name: "raw exif profile without gps", before: [][]byte{pngChunk("tEXt", append([]byte("Raw profile type exif\x00"),
			rawProfile("exif", append([]byte("Exif\x00\x00"), exifTIFF(binary.BigEndian, false)...))...))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertUntouched(t, pngWith(t, tt.before, nil), "image/png")
		})
	}
}

func TestStripPNGMalformed(t *testing.T) {
	good := pngWith(t, [][]byte{pngChunk("eXIf", exifTIFF(binary.LittleEndian, true))}, nil)
	tests := []struct {
		name string
		in   []byte
	}{
		{name: "no signature", in: good[1:]},
		{name: "truncated chunk", in: good[:60]},
		{name: "huge chunk length", in: append(append([]byte(nil), good[:33]...), 0xFF, 0xFF, 0xFF, 0xF0, 'e', 'X', 'I', 'f')},
		{name: "broken compressed text", in: pngWith(t, [][]byte{pngChunk("zTXt", []byte("Comment\x00\x00not zlib"))}, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed, err := stripBytes(t, tt.in, "image/png")
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
			if changed || !bytes.Equal(out, tt.in) {
				t.Errorf("file changed on error")
			}
		})
	}
}

// An inflate bomb: 100 zTXt chunks, each 16 KB of zlib data inflating to
// 16 MiB (1.6 MB in all, 1.6 GB inflated), the file that once took 24 s.
// Inflating is bounded per file, so the strip refuses it after the first
// chunk's worth; one chunk of that size inflating past the bound alone is
// refused too.
func TestStripPNGInflateBomb(t *testing.T) {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(make([]byte, 16<<20))
	zw.Close()
	ztxt := pngChunk("zTXt", append([]byte("Comment\x00\x00"), z.Bytes()...))
	var many [][]byte
	for range 100 {
		many = append(many, ztxt)
	}
	var big bytes.Buffer
	zw = zlib.NewWriter(&big)
	zw.Write(make([]byte, 17<<20))
	zw.Close()
	for _, tt := range []struct {
		name   string
		chunks [][]byte
	}{
		{"many chunks", many},
		{"one chunk over the bound", [][]byte{pngChunk("zTXt", append([]byte("Comment\x00\x00"), big.Bytes()...))}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bomb.png")
			if err := os.WriteFile(p, pngWith(t, tt.chunks, nil), 0o600); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err := Strip(context.Background(), p, "image/png")
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Strip = %v, want ErrMalformed", err)
			}
			t.Logf("refused in %v", time.Since(start))
		})
	}
}
