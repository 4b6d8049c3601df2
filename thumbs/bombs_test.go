package thumbs

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"
	"time"
)

// Decode bombs, each generated here: every one is refused by the walk,
// before a decoder sees it.

// segment is a JPEG marker segment.
func segment(marker byte, payload []byte) []byte {
	s := []byte{0xff, marker, 0, 0}
	binary.BigEndian.PutUint16(s[2:], uint16(len(payload)+2))
	return append(s, payload...)
}

// progressiveJPEG writes a progressive JPEG's markers: w×h with the given
// sampling factors (one component each), a DC Huffman table, scans DC
// scans of one byte of entropy data each, and EOI. It is well formed as
// far as the walk can tell.
func progressiveJPEG(w, h int, sampling []byte, scans int) []byte {
	out := []byte{0xff, 0xd8}
	out = append(out, segment(0xdb, append([]byte{0}, bytes.Repeat([]byte{1}, 64)...))...)
	sof := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), byte(len(sampling))}
	for i, s := range sampling {
		sof = append(sof, byte(i+1), s, 0)
	}
	out = append(out, segment(0xc2, sof)...)
	// One code of length 1 for category 0: every DC difference is 0.
	dht := append([]byte{0x00, 1}, make([]byte, 15)...)
	out = append(out, segment(0xc4, append(dht, 0))...)
	for range scans {
		sos := []byte{byte(len(sampling))}
		for i := range sampling {
			sos = append(sos, byte(i+1), 0)
		}
		out = append(out, segment(0xda, append(sos, 0, 0, 0))...)
		out = append(out, 0x7f)
	}
	return append(out, 0xff, 0xd9)
}

func TestJPEGBombs(t *testing.T) {
	for _, tt := range []struct {
		name    string
		data    []byte
		wantErr error
		want    string
	}{
		// 77 KB: each scan makes the decoder revisit every coefficient;
		// 7,000 of them took 58 s of CPU.
		{"7000 scans", progressiveJPEG(64, 64, []byte{0x11}, 7000), ErrUndecodable, "more than 100 scans"},
		{"101 scans", progressiveJPEG(64, 64, []byte{0x11}, 101), ErrUndecodable, "more than 100 scans"},
		// A few hundred bytes whose decode would hold 49 MP × 3
		// components of coefficients (4 bytes each) and pixels: 735 MB.
		{"7000x7000 progressive 4:4:4", progressiveJPEG(7000, 7000, []byte{0x11, 0x11, 0x11}, 1), ErrTooManyPixels, "would take 876 MB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Logf("%d bytes", len(tt.data))
			m := newMaker(t, 32)
			start := time.Now()
			_, err := m.Make(context.Background(), writeFile(t, "bomb.jpg", tt.data), "image/jpeg")
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Make = %v, want %v (%s)", err, tt.wantErr, tt.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("refused only after %v", d)
			}
		})
	}
}

// What the walk estimates for the decodes it lets through or refuses.
func TestJPEGDecodeBytes(t *testing.T) {
	for _, tt := range []struct {
		name        string
		info        jpegInfo
		want        int64
		refusedAt50 bool // over 50 MP × 4 bytes
	}{
		{"12 MP baseline 4:2:0", jpegInfo{width: 4000, height: 3000, components: []component{{2, 2}, {1, 1}, {1, 1}}}, 18_000_000, false},
		{"12 MP progressive 4:2:0", jpegInfo{width: 4000, height: 3000, progressive: true, components: []component{{2, 2}, {1, 1}, {1, 1}}}, 18_000_000 + 48_000_000 + 2*2000*1504*4, false},
		{"50 MP baseline 4:4:4", jpegInfo{width: 10000, height: 5000, components: []component{{1, 1}, {1, 1}, {1, 1}}}, 150_000_000, false},
		{"49 MP progressive 4:4:4", jpegInfo{width: 7000, height: 7000, progressive: true, components: []component{{1, 1}, {1, 1}, {1, 1}}}, 49_000_000 * 15, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.info.decodeBytes()
			if got != tt.want {
				t.Errorf("decodeBytes = %d, want %d", got, tt.want)
			}
			if refused := got*5/4 > 50_000_000*bytesPerMaxPixel; refused != tt.refusedAt50 {
				t.Errorf("refused at 50 MP: %v, want %v", refused, tt.refusedAt50)
			}
		})
	}
}

// withPNGChunk inserts a chunk right after a PNG's IHDR.
func withPNGChunk(p []byte, typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	c = binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
	at := 8 + 25 // signature, IHDR
	return append(append(append([]byte{}, p[:at]...), c...), p[at:]...)
}

func zlibBytes(b []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(b)
	zw.Close()
	return z.Bytes()
}

func TestPNGMetadataBombsAndMarkup(t *testing.T) {
	plain := pngBytes(t, markedImage(200, 100))
	for _, tt := range []struct {
		name    string
		data    []byte
		wantErr error
	}{
		// 64 MiB of inflated text from 64 KB.
		{"zTXt inflate bomb", withPNGChunk(plain, "zTXt", append([]byte("Comment\x00\x00"), zlibBytes(make([]byte, 64<<20))...)), ErrUndecodable},
		{"iTXt inflate bomb", withPNGChunk(plain, "iTXt", append([]byte("XML:com.adobe.xmp\x00\x01\x00\x00\x00"), zlibBytes(make([]byte, 64<<20))...)), ErrUndecodable},
		{"markup in tEXt", withPNGChunk(plain, "tEXt", []byte("Comment\x00<html><script>alert(1)</script>")), ErrMarkup},
		{"markup in zTXt past 4 KiB", withPNGChunk(plain, "zTXt", append([]byte("Comment\x00\x00"), zlibBytes(append(make([]byte, 5000), "<script>"...))...)), ErrMarkup},
		{"markup in iCCP", withPNGChunk(plain, "iCCP", append([]byte("icc\x00\x00"), zlibBytes([]byte("<html><script>"))...)), ErrMarkup},
		{"plain text kept", withPNGChunk(plain, "tEXt", []byte("Comment\x00a < b and c > d")), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := newMaker(t, 100)
			img, err := m.Make(context.Background(), writeFile(t, "up.png", tt.data), "image/png")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Make = %v, want %v", err, tt.wantErr)
			}
			if err == nil && len(img.Thumbnails) != 1 {
				t.Errorf("%d thumbnails", len(img.Thumbnails))
			}
		})
	}
}

// An ICC profile is opaque bytes: one that begins "<html><script>" was
// once copied into every thumbnail. Markup anywhere in any metadata
// segment, or across the chunks of a profile, refuses the image.
func TestJPEGMetadataMarkup(t *testing.T) {
	plain := jpegBytes(t, markedImage(400, 300), 1)
	far := append(bytes.Repeat([]byte{'A'}, 5000), "<script>x</script>"...)
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"ICC profile starting <html><script>", insertICC(plain, append([]byte("<html><script>alert(1)</script>"), make([]byte, 200)...), 60_000, nil)},
		{"ICC markup past 4 KiB", insertICC(plain, far, 60_000, nil)},
		{"ICC markup across two chunks", insertICC(plain, far[:5010], 5002, nil)},
		{"COM segment", withSegment(plain, 0xfe, []byte("<svg onload=alert(1)>"))},
		{"XMP with a script", withSegment(plain, 0xe1, []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><script>x</script></x:xmpmeta>"))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := newMaker(t, 100)
			src := writeFile(t, "up.jpg", tt.data)
			if _, err := m.Probe(context.Background(), src, "image/jpeg"); !errors.Is(err, ErrMarkup) {
				t.Errorf("Probe = %v, want ErrMarkup", err)
			}
			if _, err := m.Make(context.Background(), src, "image/jpeg"); !errors.Is(err, ErrMarkup) {
				t.Errorf("Make = %v, want ErrMarkup", err)
			}
		})
	}
}

func withSegment(jpg []byte, marker byte, payload []byte) []byte {
	return append(append(append([]byte{}, jpg[:2]...), segment(marker, payload)...), jpg[2:]...)
}

// A decode stops once its context is done, and says so rather than
// blaming the image.
func TestDecodeStopsWithContext(t *testing.T) {
	src := writeFile(t, "a.jpg", jpegBytes(t, markedImage(400, 300), 0))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := decode(ctx, src, formats["image/jpeg"], 1)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrUndecodable) {
		t.Fatalf("decode = %v, want context.Canceled only", err)
	}
	if _, err := newMaker(t, 100).Make(ctx, src, "image/jpeg"); !errors.Is(err, context.Canceled) || errors.Is(err, ErrUndecodable) {
		t.Fatalf("Make = %v, want context.Canceled only", err)
	}
}

// Decodes share the memory budget: with all of it taken, a small decode
// waits; with a sliver taken, a decode costing more than the whole budget
// waits for all of it.
func TestDecodeMemoryBudget(t *testing.T) {
	src := writeFile(t, "a.jpg", jpegBytes(t, markedImage(400, 300), 0)) // costs ~225 KB
	for _, tt := range []struct {
		name   string
		budget int64
		held   int64
	}{
		{"budget all taken", 1 << 20, 1 << 20},
		{"image over the budget waits for all of it", 100 << 10, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(Options{Widths: []int{100}, MaxPixels: 1 << 30, DecodeMemory: tt.budget})
			if err != nil {
				t.Fatal(err)
			}
			release, err := m.acquire(context.Background(), tt.held)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if _, err := m.Make(ctx, src, "image/jpeg"); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Make = %v, want to wait until the deadline", err)
			}
			release()
			if img, err := m.Make(context.Background(), src, "image/jpeg"); err != nil || len(img.Thumbnails) != 1 {
				t.Fatalf("Make after release = %+v, %v", img, err)
			}
		})
	}
}

// Markup in an AVIF's meta box (where its ICC profile sits) refuses it.
func TestAVIFMetaMarkup(t *testing.T) {
	av := avifBytes(t, markedImage(64, 48))
	// libavif names its handler "libavif" in the meta box's hdlr; the
	// same number of bytes of markup keeps the structure intact.
	i := bytes.Index(av, []byte("libavif\x00"))
	if i < 0 || i > bytes.Index(av, []byte("mdat")) {
		t.Fatal("no handler name in the meta box")
	}
	bad := bytes.Clone(av)
	copy(bad[i:], "<svg/>x")
	if _, err := newMaker(t).Make(context.Background(), writeFile(t, "a.avif", bad), "image/avif"); !errors.Is(err, ErrMarkup) {
		t.Fatalf("Make = %v, want ErrMarkup", err)
	}
	if _, err := newMaker(t).Make(context.Background(), writeFile(t, "a.avif", av), "image/avif"); err != nil {
		t.Fatalf("intact: %v", err)
	}
}
