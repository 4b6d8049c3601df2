// Package testphoto makes images for tests and benchmarks: the photo the
// thumbnail benchmarks use, so that the Go benchmark and the side-by-side
// comparison with sharp measure the same image, and the JPEG segments
// cameras write.
package testphoto

import (
	"bytes"
	"encoding/binary"
	"image"
	"math"
	"math/rand/v2"
)

// Paint returns a deterministic photo-like image (gradients, fine
// texture, sensor-like noise): at 4000×3000 and JPEG quality 90 it is
// about 3.9 MB and decodes like a phone photo, not a flat test card.
func Paint(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(1, 2))
	clamp := func(v float64) uint8 { return uint8(math.Max(0, math.Min(255, v+0.5))) }
	for y := 0; y < h; y++ {
		fy := float64(y) / float64(h)
		for x := 0; x < w; x++ {
			fx := float64(x) / float64(w)
			tex := 30 * math.Sin(float64(x)*0.21+3*math.Sin(float64(y)*0.013)) * math.Sin(float64(y)*0.17)
			n := rng.NormFloat64() * 6
			i := img.PixOffset(x, y)
			img.Pix[i+0] = clamp(200*fx + 40*fy + tex + n)
			img.Pix[i+1] = clamp(120 + 90*math.Sin(6*fx+4*fy) + tex*0.6 + n)
			img.Pix[i+2] = clamp(220*(1-fy) + tex*0.3 + n)
			img.Pix[i+3] = 255
		}
	}
	return img
}

// Cut returns Paint's w×h photo with each colour channel cut by mask
// (0x80 leaves two levels a channel: as few colours as a screenshot has)
// and every pixel opaque.
func Cut(w, h int, mask uint8) *image.RGBA {
	img := Paint(w, h)
	for i := range img.Pix {
		if i%4 != 3 {
			img.Pix[i] &= mask
		}
	}
	return img
}

// WithSegment returns the JPEG jpg with a marker segment (APP1 is 0xE1)
// holding payload inserted right after SOI, where cameras put theirs.
func WithSegment(jpg []byte, marker byte, payload []byte) []byte {
	if len(jpg) < 2 || jpg[0] != 0xff || jpg[1] != 0xd8 {
		panic("testphoto: not a JPEG")
	}
	out := []byte{0xff, 0xd8, 0xff, marker, 0, 0}
	binary.BigEndian.PutUint16(out[4:], uint16(len(payload)+2))
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

// EXIFOrientation builds an EXIF APP1 payload ("Exif\0\0" + TIFF) whose
// IFD0 holds orientation o, preceded by an unrelated tag so that a
// parser has to walk the entries.
func EXIFOrientation(o int, bo binary.ByteOrder) []byte {
	var b bytes.Buffer
	b.WriteString("Exif\x00\x00")
	if bo == binary.LittleEndian {
		b.WriteString("II")
	} else {
		b.WriteString("MM")
	}
	w := func(v any) { binary.Write(&b, bo, v) }
	w(uint16(42))
	w(uint32(8)) // IFD0 right after the header
	w(uint16(2)) // two entries
	// 0x010f Make, ASCII, count 4, inline "Go\0\0".
	w(uint16(0x010f))
	w(uint16(2))
	w(uint32(4))
	b.WriteString("Go\x00\x00")
	// 0x0112 Orientation, SHORT, count 1.
	w(uint16(0x0112))
	w(uint16(3))
	w(uint32(1))
	w(uint16(o))
	w(uint16(0))
	w(uint32(0)) // no next IFD
	return b.Bytes()
}
