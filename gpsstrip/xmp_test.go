package gpsstrip

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestScrubXMP(t *testing.T) {
	tests := []struct {
		name, in string
		gone     []string // substrings that must turn into spaces; the rest stays
		wantErr  error
	}{
		{name: "no location", in: `<a:b c:d="1">x</a:b>`},
		{name: "attribute double quotes", in: `<d exif:GPSLatitude="51,30N" x="1"/>`, gone: []string{`exif:GPSLatitude="51,30N"`}},
		{name: "attribute single quotes", in: `<d x="1" exif:GPSLongitude='0,7W'>`, gone: []string{`exif:GPSLongitude='0,7W'`}},
		{name: "attribute with > inside", in: `<d exif:GPSAreaInformation="a>b"/>`, gone: []string{`exif:GPSAreaInformation="a>b"`}},
		{name: "spaces around =", in: `<d exif:GPSAltitude = "12"/>`, gone: []string{`exif:GPSAltitude = "12"`}},
		{name: "element", in: `<d><exif:GPSLatitude>51N</exif:GPSLatitude><t:Make>X</t:Make></d>`,
			gone: []string{`<exif:GPSLatitude>51N</exif:GPSLatitude>`}},
		{name: "self-closing element", in: `<d><exif:GPSTimeStamp rdf:resource="x"/></d>`, gone: []string{`<exif:GPSTimeStamp rdf:resource="x"/>`}},
		{name: "nested same name", in: `<exif:GPSx><exif:GPSx>1</exif:GPSx></exif:GPSx>!`,
			gone: []string{`<exif:GPSx><exif:GPSx>1</exif:GPSx></exif:GPSx>`}},
		{name: "struct with children", in: `<exif:GPSDest rdf:parseType="Resource"><a:b>1</a:b></exif:GPSDest>`,
			gone: []string{`<exif:GPSDest rdf:parseType="Resource"><a:b>1</a:b></exif:GPSDest>`}},
		{name: "other prefix and case", in: `<drone-dji:GpsLatitude>1</drone-dji:GpsLatitude><ns:latitude>2</ns:latitude>`,
			gone: []string{`<drone-dji:GpsLatitude>1</drone-dji:GpsLatitude>`, `<ns:latitude>2</ns:latitude>`}},
		{name: "default namespace", in: `<GPSLatitude>1</GPSLatitude>`, gone: []string{`<GPSLatitude>1</GPSLatitude>`}},
		{name: "namespace declaration kept", in: `<d xmlns:gps="u" gps:Mode="3"/>`},
		{name: "W3C geo", in: `<d geo:lat="51.5" geo:long="-0.12"><geo:alt>30</geo:alt><geo:lat_long>1,2</geo:lat_long></d>`,
			gone: []string{`geo:lat="51.5"`, `geo:long="-0.12"`, `<geo:alt>30</geo:alt>`, `<geo:lat_long>1,2</geo:lat_long>`}},
		{name: "names containing lat kept", in: `<d x:translate="1" x:longer="2"/>`},
		{name: "IPTC location shown", in: `<Iptc4xmpExt:LocationShown><rdf:Bag><rdf:li Iptc4xmpExt:City="Paris" Iptc4xmpExt:GPSLatitude="48.8"/></rdf:Bag></Iptc4xmpExt:LocationShown>`,
			gone: []string{`Iptc4xmpExt:GPSLatitude="48.8"`}},
		{name: "place names kept", in: `<d><I:City>Paris</I:City><I:LocationName>Home</I:LocationName></d>`},
		{name: "binary around", in: "\x00\xff<<\x01<d exif:GPSDOP=\"1\"/>\x00<", gone: []string{`exif:GPSDOP="1"`}},
		{name: "unterminated element", in: `<exif:GPSLatitude>51N`, wantErr: ErrMalformed},
		{name: "unterminated attribute", in: `<d exif:GPSLatitude="51N`, wantErr: ErrMalformed},
		{name: "in a comment", in: `<!-- exif:GPSLatitude="1" -->`, wantErr: ErrMalformed},
		// Broken markup where blanking one property makes another: the
		// second pass finds it (found by FuzzStrip).
		{name: "blanking makes a tag", in: `<A<exif:GPSVersionID></exif:GPSVersionID>GPS=""0`,
			gone: []string{`<exif:GPSVersionID></exif:GPSVersionID>`, `GPS=""`}},
		{name: "blanking makes tags five passes deep", in: `<A<gps1<gps2<gps3<gps/>x=''></gps3>x=''></gps2>x=''></gps1>GPS=''`, wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := []byte(tt.in)
			err := scrubXMP(b)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			want := tt.in
			for _, g := range tt.gone {
				want = strings.Replace(want, g, strings.Repeat(" ", len(g)), 1)
			}
			if got := string(b); got != want {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}
}

// TestXMPPacketCheck makes sure the XML check used by the container tests
// would see the planted location, and that scrubbing the packet passes it.
func TestXMPPacketCheck(t *testing.T) {
	in := xmpPacket(true)
	names := 0
	for _, w := range []string{"GPSLatitude", "GPSLongitude", "GPSAltitude", "GpsLatitude"} {
		names += bytes.Count(in, []byte(w))
	}
	if names < 6 {
		t.Fatalf("planted packet has %d location names", names)
	}
	b := append([]byte(nil), in...)
	if err := scrubXMP(b); err != nil {
		t.Fatal(err)
	}
	checkXMP(t, b)
	assertNoCoordinates(t, b)
}

func BenchmarkScrubXMP(b *testing.B) {
	packet := xmpPacket(true)
	buf := make([]byte, len(packet))
	b.SetBytes(int64(len(packet)))
	for b.Loop() {
		copy(buf, packet)
		if err := scrubXMP(buf); err != nil {
			b.Fatal(err)
		}
	}
}
