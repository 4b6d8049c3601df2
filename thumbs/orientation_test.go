package thumbs

import (
	"bytes"
	"encoding/binary"
	"spano/internal/testphoto"
	"testing"
)

func TestJPEGOrientation(t *testing.T) {
	plain := jpegBytes(t, markedImage(16, 16), 0)
	xmp := append([]byte("http://ns.adobe.com/xap/1.0/\x00"), []byte("<x:xmpmeta/>")...)
	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"no exif", plain, 1},
		{"big endian 6", testphoto.WithSegment(plain, 0xe1, testphoto.EXIFOrientation(6, binary.BigEndian)), 6},
		{"little endian 8", testphoto.WithSegment(plain, 0xe1, testphoto.EXIFOrientation(8, binary.LittleEndian)), 8},
		{"little endian 3", testphoto.WithSegment(plain, 0xe1, testphoto.EXIFOrientation(3, binary.LittleEndian)), 3},
		{"exif after xmp and icc segments", testphoto.WithSegment(testphoto.WithSegment(testphoto.WithSegment(plain, 0xe1, testphoto.EXIFOrientation(5, binary.BigEndian)), 0xe2, make([]byte, 3000)), 0xe1, xmp), 5},
		{"out of range 9", testphoto.WithSegment(plain, 0xe1, testphoto.EXIFOrientation(9, binary.BigEndian)), 1},
		{"zero", testphoto.WithSegment(plain, 0xe1, testphoto.EXIFOrientation(0, binary.BigEndian)), 1},
		{"exif header cut short", testphoto.WithSegment(plain, 0xe1, testphoto.EXIFOrientation(6, binary.BigEndian)[:20]), 1},
		{"not a jpeg", []byte("\x89PNG\r\n\x1a\n"), 1},
		{"empty", nil, 1},
		{"only SOI", []byte{0xff, 0xd8}, 1},
		{"exif after SOS is ignored", append(append([]byte{}, plain[:len(plain)-2]...), testphoto.WithSegment([]byte{0xff, 0xd8}, 0xe1, testphoto.EXIFOrientation(6, binary.BigEndian))[2:]...), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := JPEGOrientation(bytes.NewReader(tt.data)); got != tt.want {
				t.Errorf("JPEGOrientation = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestTIFFOrientationMalformed(t *testing.T) {
	good := testphoto.EXIFOrientation(7, binary.LittleEndian)[6:]
	corrupt := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	tests := []struct {
		name string
		tiff []byte
		want int
	}{
		{"good", good, 7},
		{"bad byte order", corrupt(func(b []byte) { b[0] = 'X' }), 1},
		{"bad magic", corrupt(func(b []byte) { b[2] = 43 }), 1},
		{"IFD offset past end", corrupt(func(b []byte) { binary.LittleEndian.PutUint32(b[4:], 1<<31) }), 1},
		{"IFD offset into header", corrupt(func(b []byte) { binary.LittleEndian.PutUint32(b[4:], 2) }), 1},
		// Entries that are present are read even when the count overstates them.
		{"entry count past end", corrupt(func(b []byte) { binary.LittleEndian.PutUint16(b[8:], 60000) }), 7},
		{"entry count past end, orientation beyond", corrupt(func(b []byte) {
			binary.LittleEndian.PutUint16(b[8:], 60000)
			binary.LittleEndian.PutUint16(b[8+2+12:], 0x0100) // orientation tag renamed
		}), 1},
		{"orientation as LONG", corrupt(func(b []byte) { binary.LittleEndian.PutUint16(b[8+2+12+2:], 4) }), 1},
		{"orientation count 2", corrupt(func(b []byte) { binary.LittleEndian.PutUint32(b[8+2+12+4:], 2) }), 1},
		{"cut inside entry", good[:8+2+12+6], 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tiffOrientation(tt.tiff); got != tt.want {
				t.Errorf("tiffOrientation = %d, want %d", got, tt.want)
			}
		})
	}
}

// FuzzJPEGOrientation checks that no header makes the parser panic, loop or
// answer outside 1–8.
func FuzzJPEGOrientation(f *testing.F) {
	plain := []byte{0xff, 0xd8, 0xff, 0xd9}
	f.Add(plain)
	seg := append([]byte{0xff, 0xd8, 0xff, 0xe1, 0, 0}, testphoto.EXIFOrientation(6, binary.BigEndian)...)
	binary.BigEndian.PutUint16(seg[4:], uint16(len(seg)-4))
	f.Add(seg)
	f.Add(append([]byte{0xff, 0xd8, 0xff, 0xff, 0xff, 0xe1, 0, 2}, seg[2:]...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := JPEGOrientation(bytes.NewReader(data)); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
	})
}
