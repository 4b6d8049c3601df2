package heic

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzInspect feeds the container walk arbitrary files: it must never
// panic, and what it accepts has a primary image with a size.
func FuzzInspect(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x10ftypheic\x00\x00\x00\x00"))
	f.Add(fuzzSeed())
	if src, ok := heifEncSeed(f); ok {
		f.Add(src)
		f.Add(withTransforms(f, src, 1, 1))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := inspect(bytes.NewReader(data), int64(len(data)), DefaultMaxPixels)
		if err != nil {
			return
		}
		if p.width == 0 || p.height == 0 || uint64(p.width)*uint64(p.height) > DefaultMaxPixels {
			t.Fatalf("accepted a primary image of %d×%d", p.width, p.height)
		}
		if len(p.exif) > maxExif || len(p.icc) > maxICC {
			t.Fatalf("exif %d, icc %d bytes", len(p.exif), len(p.icc))
		}
		_ = segments(uprightEXIF(p.exif), p.icc)
	})
}

// heifEncSeed is a real file from heif-enc, when it is installed.
func heifEncSeed(f *testing.F) (b []byte, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	if _, err := lookPath("heif-enc"); err != nil {
		return nil, false
	}
	return makeHEIC(f, quadrants(128, 128), tiffEXIF(6, binary.LittleEndian), fakeICC(200)), true
}

// fuzzSeed is a hand-built HEIF structure: ftyp, and a meta box with
// pitm, iinf (an hvc1 item and an Exif item), iloc (the Exif in idat),
// iprp (ispe, irot, colr) and iref (cdsc), so that every parser is
// reached without heif-enc.
func fuzzSeed() []byte {
	be := binary.BigEndian
	full := func(typ string, v byte, body []byte) []byte {
		return mkbox(typ, append([]byte{v, 0, 0, 0}, body...))
	}
	infe := func(id uint16, typ string) []byte {
		b := be.AppendUint16(nil, id)
		b = append(b, 0, 0)
		return full("infe", 2, append(append(b, typ...), 0))
	}
	tiff := tiffEXIF(3, be)
	exifItem := append([]byte{0, 0, 0, 0}, tiff...)
	iinf := full("iinf", 0, append(append([]byte{0, 2}, infe(1, "hvc1")...), infe(2, "Exif")...))
	// iloc v1: offset 4 bytes, length 4, base 0, index 0; item 2 in idat.
	iloc := []byte{0x44, 0x00, 0, 1, 0, 2, 0, 1, 0, 0, 0, 1}
	iloc = be.AppendUint32(iloc, 0)
	iloc = be.AppendUint32(iloc, uint32(len(exifItem)))
	ispe := full("ispe", 0, []byte{0, 0, 0, 64, 0, 0, 0, 48})
	ipco := mkbox("ipco", append(append(ispe, mkbox("irot", []byte{1})...), mkbox("colr", append([]byte("prof"), fakeICC(200)...))...))
	ipma := full("ipma", 0, []byte{0, 0, 0, 1, 0, 1, 3, 1, 0x82, 3})
	iref := full("iref", 0, mkbox("cdsc", []byte{0, 2, 0, 1, 0, 1}))
	meta := full("meta", 0, concat(
		full("pitm", 0, []byte{0, 1}),
		iinf,
		full("iloc", 1, iloc),
		mkbox("iprp", append(ipco, ipma...)),
		iref,
		mkbox("idat", exifItem),
	))
	return concat(mkbox("ftyp", []byte("heic\x00\x00\x00\x00mif1heic")), meta)
}

func concat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func TestFuzzSeedParses(t *testing.T) {
	src := fuzzSeed()
	p, err := inspect(bytes.NewReader(src), int64(len(src)), DefaultMaxPixels)
	if err != nil {
		t.Fatalf("inspect: %v", err)
	}
	if p.width != 64 || p.height != 48 || p.rotation != 1 || len(p.icc) != 200 || len(p.exif) == 0 {
		t.Errorf("got %d×%d rot %d icc %d exif %d; want 64×48 rot 1 icc 200 and exif", p.width, p.height, p.rotation, len(p.icc), len(p.exif))
	}
	if got := uprightEXIF(p.exif); got == nil || bytes.Contains(got, []byte{0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 3}) {
		t.Errorf("orientation 3 not set to 1")
	}
}

// Broken containers are refused by the walk, before any decoding.
func TestInspectRefuses(t *testing.T) {
	seed := fuzzSeed()
	replace := func(old, new string) []byte {
		if !bytes.Contains(seed, []byte(old)) {
			t.Fatalf("seed has no %q", old)
		}
		return bytes.Replace(bytes.Clone(seed), []byte(old), []byte(new), 1)
	}
	ipma := bytes.Index(seed, []byte("ipma"))
	badIndex := bytes.Clone(seed)
	badIndex[ipma+4+4+4+2+1] = 0x89 // first association: property 9 of 3
	tests := []struct {
		name      string
		data      []byte
		maxPixels int64
		want      error
	}{
		{"no ftyp first", replace("ftyp", "free"), DefaultMaxPixels, ErrUndecodable},
		{"no meta", replace("meta", "mett"), DefaultMaxPixels, ErrUndecodable},
		{"no pitm", replace("pitm", "pitx"), DefaultMaxPixels, ErrUndecodable},
		{"no ispe", replace("ispe", "ispx"), DefaultMaxPixels, ErrUndecodable},
		{"property index out of range", badIndex, DefaultMaxPixels, ErrUndecodable},
		{"meta cut short", seed[:len(seed)-10], DefaultMaxPixels, ErrUndecodable},
		{"too many pixels", seed, 64*48 - 1, ErrTooManyPixels},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := inspect(bytes.NewReader(tt.data), int64(len(tt.data)), tt.maxPixels)
			if !errors.Is(err, tt.want) {
				t.Fatalf("inspect: %v, want %v", err, tt.want)
			}
		})
	}
}

// An Exif item whose extent points past the file is refused, not read.
func TestInspectExifPastTheFile(t *testing.T) {
	seed := fuzzSeed()
	iloc := bytes.Index(seed, []byte("iloc"))
	b := bytes.Clone(seed)
	// iloc v1: 4 version/flags, 2 sizes, 2 count, 2 ID, 2 method (idat),
	// 2 data reference, 2 extent count, then the offset: make the item a
	// file-offset one (method 0) far past the end.
	b[iloc+4+4+2+2+2+1] = 0
	binary.BigEndian.PutUint32(b[iloc+4+4+2+2+2+2+2+2:], 1<<30)
	_, err := inspect(bytes.NewReader(b), int64(len(b)), DefaultMaxPixels)
	if !errors.Is(err, ErrUndecodable) {
		t.Fatalf("inspect: %v, want ErrUndecodable", err)
	}
}

// The Exif item's TIFF is found whether its header offset skips a JPEG
// style "Exif\0\0" (as Apple writes) or the prefix sits after offset 0.
func TestExifItemPrefix(t *testing.T) {
	tiff := tiffEXIF(6, binary.BigEndian)
	for name, item := range map[string][]byte{
		"offset 0":                  append([]byte{0, 0, 0, 0}, tiff...),
		"offset 6 past Exif\\0\\0":  append([]byte{0, 0, 0, 6, 'E', 'x', 'i', 'f', 0, 0}, tiff...),
		"offset 0, Exif\\0\\0 kept": append([]byte{0, 0, 0, 0, 'E', 'x', 'i', 'f', 0, 0}, tiff...),
	} {
		t.Run(name, func(t *testing.T) {
			m := &meta{primary: 1, types: map[uint32]string{2: "Exif"}, idat: item,
				locs:  map[uint32][]extent{2: {{idat: true, length: uint64(len(item))}}},
				props: []box{{typ: "ispe", body: []byte{0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 8}}},
				assoc: map[uint32][]int{1: {1}}, cdsc: map[uint32][]uint32{1: {2}}}
			p, err := m.describe(bytes.NewReader(nil), 0)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p.exif, tiff) {
				t.Errorf("exif starts %q, want the TIFF", p.exif[:min(8, len(p.exif))])
			}
		})
	}
}
