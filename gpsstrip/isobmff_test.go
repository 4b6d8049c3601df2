package gpsstrip

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mp4Tree lists the box paths of an ISO BMFF file ("moov/udta/©xyz"), and
// the ilst item values by key name, using a walker separate from the one
// under test.
func mp4Tree(t *testing.T, b []byte) (paths []string, items map[string]string) {
	t.Helper()
	items = map[string]string{}
	var walk func(b []byte, prefix string)
	walk = func(b []byte, prefix string) {
		var keys []string
		for len(b) >= 8 {
			size, hdr := uint64(binary.BigEndian.Uint32(b)), uint64(8)
			typ := string(b[4:8])
			switch size {
			case 0:
				size = uint64(len(b))
			case 1:
				size, hdr = binary.BigEndian.Uint64(b[8:]), 16
			}
			if size < hdr || size > uint64(len(b)) {
				t.Fatalf("box %s%s: size %d of %d", prefix, typ, size, len(b))
			}
			body := b[hdr:size]
			paths = append(paths, prefix+typ)
			switch typ {
			case "moov", "trak", "udta", "mdia", "minf":
				walk(body, prefix+typ+"/")
			case "meta":
				if string(body[4:8]) != "hdlr" {
					body = body[4:]
				}
				walk(body, prefix+typ+"/")
			case "keys":
				for p := body[8:]; len(p) >= 8; p = p[binary.BigEndian.Uint32(p):] {
					keys = append(keys, string(p[8:binary.BigEndian.Uint32(p)]))
				}
			case "ilst":
				for p := body; len(p) >= 8; p = p[binary.BigEndian.Uint32(p):] {
					n, ityp := binary.BigEndian.Uint32(p), string(p[4:8])
					if ityp == "free" {
						continue
					}
					idx := int(binary.BigEndian.Uint32(p[4:]))
					name := ityp
					if idx >= 1 && idx <= len(keys) {
						name = keys[idx-1]
					}
					items[name] = string(p[8+16 : n]) // data box: header, type, locale
				}
			}
			b = b[size:]
		}
	}
	walk(b, "")
	return paths, items
}

func TestStripMP4(t *testing.T) {
	mdat := mp4Box("mdat", bytes.Repeat([]byte("frame data "), 100))
	xmpUUIDBox := mp4Box("uuid", xmpUUID, xmpPacket(true))
	itunesMeta := mp4Box("meta", u32(0),
		mp4Box("hdlr", make([]byte, 8), []byte("mdir"), make([]byte, 13)),
		mp4Box("ilst",
			mp4Box("\xa9xyz", mp4Box("data", u32(1), u32(0), []byte(iso6709))),
			mp4Box("\xa9too", mp4Box("data", u32(1), u32(0), []byte("Lavf")))))
	tests := []struct {
		name    string
		in      []byte
		mime    string
		wantXMP bool
	}{
		{name: "moov before mdat", in: bytes.Join([][]byte{mp4Ftyp(), mp4Moov(true), mdat}, nil), mime: "video/quicktime"},
		{name: "moov after 64-bit mdat", in: bytes.Join([][]byte{mp4Ftyp(), mp4Box64("mdat", mdat[8:]), mp4Moov(true)}, nil), mime: "video/mp4"},
		{name: "mdat of size 0 at the end", in: bytes.Join([][]byte{mp4Ftyp(), mp4Moov(true), u32(0), []byte("mdat"), mdat[8:]}, nil), mime: "video/mp4"},
		{name: "xmp uuid box and itunes ilst", in: bytes.Join([][]byte{mp4Ftyp(), xmpUUIDBox,
			mp4Box("moov", mp4Box("mvhd", make([]byte, 100)), mp4Box("udta", itunesMeta, mp4Box("XMP_", xmpPacket(true)))), mdat}, nil),
			mime: "audio/mp4", wantXMP: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, beforeItems := mp4Tree(t, tt.in)
			if !strings.Contains(strings.Join(before, " "), "\xa9xyz") && beforeItems["\xa9xyz"] == "" {
				t.Fatalf("planted file has no ©xyz: %q %q", before, beforeItems)
			}
			out := assertStripped(t, tt.in, tt.mime)
			paths, items := mp4Tree(t, out)
			for _, p := range paths {
				if strings.HasSuffix(p, "\xa9xyz") || strings.HasSuffix(p, "loci") {
					t.Errorf("location box %q left", p)
				}
			}
			for k, v := range items {
				if isLocationKey(k) || k == "\xa9xyz" {
					t.Errorf("location item %q = %q left", k, v)
				}
			}
			if !tt.wantXMP {
				if got, want := items["com.apple.quicktime.make"], "Apple"; got != want {
					t.Errorf("make item = %q, want %q", got, want)
				}
			} else {
				if got, want := items["\xa9too"], "Lavf"; got != want {
					t.Errorf("encoder item = %q, want %q", got, want)
				}
				for _, at := range []int{bytes.Index(out, []byte("<x:xmpmeta")), bytes.LastIndex(out, []byte("<x:xmpmeta"))} {
					checkXMP(t, xmpOf(t, out[at:]))
				}
			}
			mdatAt := bytes.Index(tt.in, []byte("frame data"))
			if !bytes.Equal(tt.in[mdatAt:mdatAt+1100], out[mdatAt:mdatAt+1100]) {
				t.Errorf("media data changed")
			}
		})
	}
}

// TestStripMP4SeeksOverHugeMdat puts the moov after a sparse 3 GiB mdat:
// only box headers may be read on the way.
func TestStripMP4SeeksOverHugeMdat(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.mov")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	const mdatSize = 3 << 30
	head := append(mp4Ftyp(), u32(1)...)
	head = append(head, "mdat"...)
	head = binary.BigEndian.AppendUint64(head, mdatSize)
	moov := mp4Moov(true)
	moovAt := int64(len(mp4Ftyp())) + mdatSize
	if _, err := f.Write(head); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(moov, moovAt); err != nil {
		t.Skipf("no sparse 3 GiB file here: %v", err)
	}
	f.Close()
	changed, err := Strip(context.Background(), p, "video/quicktime")
	if err != nil || !changed {
		t.Fatalf("Strip = %v, %v; want true, nil", changed, err)
	}
	f, err = os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := make([]byte, len(moov))
	if _, err := f.ReadAt(got, moovAt); err != nil {
		t.Fatal(err)
	}
	assertNoCoordinates(t, got)
	if st, _ := f.Stat(); st.Size() != moovAt+int64(len(moov)) {
		t.Errorf("size %d, want %d", st.Size(), moovAt+int64(len(moov)))
	}
}

func TestStripMP4WithoutLocation(t *testing.T) {
	assertUntouched(t, bytes.Join([][]byte{mp4Ftyp(), mp4Moov(false), mp4Box("mdat", []byte("x"))}, nil), "video/mp4")
}

func TestStripMP4Malformed(t *testing.T) {
	moov := mp4Moov(true)
	overlong := append([]byte(nil), moov...)
	binary.BigEndian.PutUint32(overlong, uint32(len(moov)+100))
	keys := bytes.Index(moov, []byte("keys"))
	badKeys := append([]byte(nil), moov...)
	binary.BigEndian.PutUint32(badKeys[keys+8:], 1000) // entry count far beyond the box
	tests := []struct {
		name string
		in   []byte
	}{
		{name: "moov past the end", in: append(mp4Ftyp(), overlong...)},
		{name: "truncated moov", in: append(mp4Ftyp(), moov[:len(moov)/2]...)},
		{name: "box smaller than its header", in: append(mp4Ftyp(), 0, 0, 0, 4, 'm', 'o', 'o', 'v')},
		{name: "keys count beyond the box", in: append(mp4Ftyp(), badKeys...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed, err := stripBytes(t, tt.in, "video/mp4")
			if !errors.Is(err, ErrMalformed) || changed || !bytes.Equal(out, tt.in) {
				t.Errorf("changed %v, err %v; want false, ErrMalformed, file untouched", changed, err)
			}
		})
	}
}
