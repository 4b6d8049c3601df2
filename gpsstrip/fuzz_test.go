package gpsstrip

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var writeCorpus = flag.Bool("gpsstrip.writecorpus", false, "rewrite testdata/fuzz/FuzzStrip seeds from the test builders")

// fuzzTypes are the MIME types FuzzStrip picks from with its kind byte.
var fuzzTypes = []string{"image/jpeg", "image/png", "image/webp", "image/gif", "video/mp4", "audio/mpeg", "video/webm", "audio/ogg"}

// stripMemory plans on data in memory and applies the patches to a copy.
func stripMemory(data []byte, mimeType string) ([]byte, bool, error) {
	patches, err := planFile(context.Background(), bytes.NewReader(data), int64(len(data)), planner(mimeType))
	if err != nil {
		return nil, false, err
	}
	out := append([]byte(nil), data...)
	for _, p := range patches {
		copy(out[p.off:], p.data)
	}
	return out, len(patches) > 0, nil
}

// fuzzSeeds are well-formed files of every type, with location data.
func fuzzSeeds(t testing.TB) map[string][]byte {
	ogg, _ := oggFile()
	return map[string][]byte{
		"jpeg-exif-II": jpegWith(t, app1("Exif\x00\x00", exifTIFF(binary.LittleEndian, true))),
		"jpeg-exif-MM-xmp": jpegWith(t, app1("Exif\x00\x00", exifTIFF(binary.BigEndian, true)),
			app1("http://ns.adobe.com/xap/1.0/\x00", xmpPacket(true))),
		"png-exif-itxt": pngWith(t, [][]byte{pngChunk("eXIf", exifTIFF(binary.BigEndian, true)),
			pngChunk("iTXt", itxt("XML:com.adobe.xmp", xmpPacket(true)))}, nil),
		"webp-exif-xmp": webpWith(riffChunk("EXIF", exifTIFF(binary.LittleEndian, true)), riffChunk("XMP ", xmpPacket(true))),
		"gif-xmp":       gifWith(t, gifXMPExtension(xmpPacket(true))),
		"mov":           bytes.Join([][]byte{mp4Ftyp(), mp4Box64("mdat", []byte("frames")), mp4Moov(true)}, nil),
		"mp3":           id3Tag(id3Frame("TXXX", []byte("\x00location\x00"+iso6709)), id3Frame("PRIV", append([]byte("XMP\x00"), xmpPacket(true)...))),
		"webm":          ebmlEl(ebmlHeaderID, nil), /* header only */
		"ogg":           ogg,
	}
}

func seedKind(name string) uint8 {
	for i, prefix := range []string{"jpeg", "png", "webp", "gif", "mov", "mp3", "webm", "ogg"} {
		if len(name) >= len(prefix) && name[:len(prefix)] == prefix {
			return uint8(i)
		}
	}
	return 0
}

// TestWriteFuzzCorpus rewrites the seed corpus when asked to with
// -gpsstrip.writecorpus; otherwise it checks the corpus is there.
func TestWriteFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzStrip")
	if !*writeCorpus {
		if entries, err := os.ReadDir(dir); err != nil || len(entries) < len(fuzzSeeds(t)) {
			t.Errorf("seed corpus in %s missing (%v): run go test -run WriteFuzzCorpus -gpsstrip.writecorpus", dir, err)
		}
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range fuzzSeeds(t) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nbyte(%q)\n", data, rune(seedKind(name)))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzStrip feeds arbitrary bytes to every container handler. It must not
// panic; it either refuses with ErrMalformed or returns a same-size file
// that a second pass leaves alone.
func FuzzStrip(f *testing.F) {
	for name, data := range fuzzSeeds(f) {
		f.Add(data, seedKind(name))
	}
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		mimeType := fuzzTypes[int(kind)%len(fuzzTypes)]
		out, _, err := stripMemory(data, mimeType)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not ErrMalformed: %v", err)
			}
			return
		}
		if len(out) != len(data) {
			t.Fatalf("size %d, want %d", len(out), len(data))
		}
		again, changed, err := stripMemory(out, mimeType)
		if err != nil || changed {
			t.Fatalf("second pass: changed %v, err %v", changed, err)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("second pass changed bytes")
		}
	})
}
