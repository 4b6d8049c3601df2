package heic

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"spano/internal/testphoto"
)

// This file makes the tests' HEIC files: Go paints a JPEG (with EXIF and
// an ICC profile), Debian's heif-enc (package libheif-examples) encodes
// it, and withTransforms adds HEIF irot/imir properties, which heif-enc
// 1.15 cannot write.

// needTool skips the test when an external tool is missing.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := lookPath(name)
	if err != nil {
		t.Skipf("%s not installed (Debian: libheif-examples for heif-enc); .ci/run installs it", name)
	}
	return p
}

// The quadrant colours of the test card, upright: top left, top right,
// bottom left, bottom right.
var quadColours = [4]color.RGBA{
	{220, 30, 30, 255}, {30, 200, 30, 255}, {30, 30, 220, 255}, {230, 220, 40, 255},
}

// quadrants paints a w×h card with four flat-coloured quadrants, so that
// every turn and flip of it is told apart.
func quadrants(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			q := 0
			if x >= w/2 {
				q++
			}
			if y >= h/2 {
				q += 2
			}
			img.SetRGBA(x, y, quadColours[q])
		}
	}
	return img
}

// rotCW turns img a quarter clockwise.
func rotCW(img *image.RGBA) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dy(), b.Dx()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			out.SetRGBA(b.Dy()-1-y, x, img.RGBAAt(x, y))
		}
	}
	return out
}

// flip mirrors img as an imir property of the given mode says: 0 top to
// bottom, 1 left to right. (HEIF 2017 called the field "axis" and said 0
// was a vertical axis; amendment 2 renamed it "mode" with the meaning
// Apple and libheif had given it: MPEGGroup/FileFormat issue 22.)
func flip(img *image.RGBA, mode int) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(b)
	for y := range b.Dy() {
		for x := range b.Dx() {
			sx, sy := x, b.Dy()-1-y
			if mode == 1 {
				sx, sy = b.Dx()-1-x, y
			}
			out.SetRGBA(x, y, img.RGBAAt(sx, sy))
		}
	}
	return out
}

// stored returns what a camera stores for the upright image when a
// reader is to turn it by irot rot (anticlockwise quarter turns) and then
// mirror it by imir mode mirror (-1: none): the inverse of those steps.
func stored(upright *image.RGBA, rot, mirror int) *image.RGBA {
	img := upright
	if mirror >= 0 {
		img = flip(img, mirror)
	}
	for range rot {
		img = rotCW(img)
	}
	return img
}

// tiffEXIF builds a TIFF structure with Make "Go", Orientation o and a
// GPS IFD holding a latitude, in byte order bo.
func tiffEXIF(o int, bo binary.ByteOrder) []byte {
	var b bytes.Buffer
	w := func(v ...any) {
		for _, x := range v {
			binary.Write(&b, bo, x)
		}
	}
	if bo == binary.LittleEndian {
		b.WriteString("II")
	} else {
		b.WriteString("MM")
	}
	w(uint16(42), uint32(8))
	// IFD0 at 8: 3 entries → ends at 8+2+36+4 = 50; GPS IFD at 50.
	w(uint16(3))
	w(uint16(0x010f), uint16(2), uint32(3))
	b.WriteString("Go\x00\x00")
	w(uint16(0x0112), uint16(3), uint32(1), uint16(o), uint16(0))
	w(uint16(0x8825), uint16(4), uint32(1), uint32(50))
	w(uint32(0))
	// GPS IFD: 2 entries → ends at 50+2+24+4 = 80; latitude values at 80.
	w(uint16(2))
	w(uint16(1), uint16(2), uint32(2))
	b.WriteString("N\x00\x00\x00")
	w(uint16(2), uint16(5), uint32(3), uint32(80))
	w(uint32(0))
	w(uint32(48), uint32(1), uint32(8), uint32(1), uint32(3000), uint32(100))
	return b.Bytes()
}

// fakeICC returns n bytes (n ≥ 200) laid out like an ICC profile: the
// header (size, "acsp" signature) and one copyright text tag, then filler
// that makes the profile n bytes long. Nothing reads it for colours.
func fakeICC(n int) []byte {
	p := make([]byte, n)
	binary.BigEndian.PutUint32(p, uint32(n))
	copy(p[4:], "spno")
	binary.BigEndian.PutUint32(p[8:], 0x04300000)
	copy(p[12:], "mntrRGB XYZ ")
	copy(p[36:], "acsp")
	binary.BigEndian.PutUint32(p[128:], 1)
	copy(p[132:], "cprt")
	binary.BigEndian.PutUint32(p[136:], 144)
	binary.BigEndian.PutUint32(p[140:], 24)
	copy(p[144:], "text\x00\x00\x00\x00spano test\x00\x00\x00\x00\x00\x00")
	for i := 168; i < n; i++ {
		p[i] = byte(i * 7)
	}
	return p
}

// makeHEIC encodes img with heif-enc from a JPEG carrying exif (TIFF,
// nil for none) and icc (nil for none).
func makeHEIC(t testing.TB, img image.Image, exif, icc []byte) []byte {
	t.Helper()
	enc := needTool(t, "heif-enc")
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	jpg := buf.Bytes()
	if icc != nil {
		jpg = testphoto.WithSegment(jpg, 0xE2, append([]byte("ICC_PROFILE\x00\x01\x01"), icc...))
	}
	if exif != nil {
		jpg = testphoto.WithSegment(jpg, 0xE1, append([]byte("Exif\x00\x00"), exif...))
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.jpg"), filepath.Join(dir, "out.heic")
	if err := os.WriteFile(in, jpg, 0o600); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command(enc, "-q", "95", "-o", out, in).CombinedOutput(); err != nil {
		t.Fatalf("heif-enc: %v\n%s", err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mkbox(typ string, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	return append(append(b, typ...), body...)
}

// withTransforms returns the HEIF file with an irot (rot > 0) and an imir
// (mirror ≥ 0) property, in that order, associated with its primary item,
// as essential properties. The meta box grows, so file offsets in iloc
// that point past it move by as much.
func withTransforms(t testing.TB, file []byte, rot, mirror int) []byte {
	t.Helper()
	top, err := boxes(file)
	if err != nil {
		t.Fatal(err)
	}
	var props []byte
	if rot > 0 {
		props = append(props, mkbox("irot", []byte{byte(rot)})...)
	}
	if mirror >= 0 {
		props = append(props, mkbox("imir", []byte{byte(mirror)})...)
	}
	var out []byte
	for _, tb := range top {
		if tb.typ != "meta" {
			out = append(out, mkbox(tb.typ, tb.body)...)
			continue
		}
		m, err := parseMeta(tb.body[4:])
		if err != nil {
			t.Fatal(err)
		}
		children, err := boxes(tb.body[4:])
		if err != nil {
			t.Fatal(err)
		}
		first := len(m.props) + 1
		var n int
		if rot > 0 {
			n++
		}
		if mirror >= 0 {
			n++
		}
		rebuilt := func(iloc []byte) []byte {
			body := append([]byte(nil), tb.body[:4]...)
			for _, c := range children {
				switch c.typ {
				case "iprp":
					body = append(body, mkbox("iprp", rebuildIprp(t, c.body, props, m.primary, first, n))...)
				case "iloc":
					body = append(body, mkbox("iloc", iloc)...)
				default:
					body = append(body, mkbox(c.typ, c.body)...)
				}
			}
			return body
		}
		var iloc []byte
		for _, c := range children {
			if c.typ == "iloc" {
				iloc = c.body
			}
		}
		delta := len(rebuilt(iloc)) - len(tb.body)
		end := uint64(len(out) + 8 + len(tb.body)) // meta's end before growing
		out = append(out, mkbox("meta", rebuilt(shiftIloc(t, iloc, end, uint64(delta))))...)
	}
	return out
}

// rebuildIprp appends props to ipco and associates n of them, from index
// first, with item id in ipma.
func rebuildIprp(t testing.TB, iprp, props []byte, id uint32, first, n int) []byte {
	bs, err := boxes(iprp)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, b := range bs {
		switch b.typ {
		case "ipco":
			out = append(out, mkbox("ipco", append(append([]byte(nil), b.body...), props...))...)
		case "ipma":
			v, flags, p, _ := fullBox(b)
			body := append([]byte(nil), b.body[:8]...)
			count := binary.BigEndian.Uint32(p)
			p = p[4:]
			for range count {
				w := idSize(v > 0)
				eid, _, _ := uintN(p, w)
				k := int(p[w])
				as := 1
				if flags&1 != 0 {
					as = 2
				}
				entry := append([]byte(nil), p[:w]...)
				assoc := p[w+1 : w+1+k*as]
				p = p[w+1+k*as:]
				if uint32(eid) == id {
					for i := range n {
						if as == 2 {
							assoc = binary.BigEndian.AppendUint16(assoc, 0x8000|uint16(first+i))
						} else {
							assoc = append(assoc, 0x80|byte(first+i))
						}
					}
					k += n
				}
				body = append(append(append(body, entry...), byte(k)), assoc...)
			}
			out = append(out, mkbox("ipma", body)...)
		default:
			out = append(out, mkbox(b.typ, b.body)...)
		}
	}
	return out
}

// shiftIloc returns a copy of the iloc payload with every file offset at
// or past end moved by delta.
func shiftIloc(t testing.TB, iloc []byte, end, delta uint64) []byte {
	t.Helper()
	b := append([]byte(nil), iloc...)
	v := b[0]
	offSize, lenSize, baseSize := int(b[4]>>4), int(b[4]&15), int(b[5]>>4)
	idxSize := 0
	if v > 0 {
		idxSize = int(b[5] & 15)
	}
	put := func(at, size int) {
		x, _, _ := uintN(b[at:], size)
		if x >= end {
			x += delta
		}
		for i := size - 1; i >= 0; i-- {
			b[at+i] = byte(x)
			x >>= 8
		}
	}
	w := idSize(v == 2)
	at := 6
	count, _, _ := uintN(b[at:], w)
	at += w
	for range count {
		at += w
		method := 0
		if v > 0 {
			method = int(b[at+1] & 15)
			at += 2
		}
		at += 2 // data reference index
		if method == 0 && baseSize > 0 {
			put(at, baseSize)
		}
		at += baseSize
		n := int(binary.BigEndian.Uint16(b[at:]))
		at += 2
		for range n {
			at += idxSize
			if method == 0 && baseSize == 0 && offSize > 0 {
				put(at, offSize)
			}
			at += offSize + lenSize
		}
	}
	return b
}

var lookPath = exec.LookPath
