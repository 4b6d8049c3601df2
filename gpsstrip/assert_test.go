package gpsstrip

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"image"
	"io"
	"strings"
	"testing"

	exif "github.com/dsoprea/go-exif/v3"
)

// This file holds the checks run on stripped files: real parsers read them
// back, and the planted coordinates are searched for byte by byte.

// forbidden lists byte strings of planted coordinates.
func forbidden() map[string][]byte {
	m := map[string][]byte{
		"xmp latitude":  []byte(xmpLat),
		"xmp longitude": []byte(xmpLon),
		"xmp altitude":  []byte(xmpAlt),
		"iso6709":       []byte(iso6709),
		"dji latitude":  []byte("+51.50740"),
		"location name": []byte("Home sweet home"),
		"loci":          u32(0x0033807f),
	}
	for name, bo := range map[string]binary.ByteOrder{"II": binary.LittleEndian, "MM": binary.BigEndian} {
		lat, lon := gpsRationals(bo)
		m["exif latitude "+name] = lat
		m["exif longitude "+name] = lon
	}
	return m
}

func assertNoCoordinates(t *testing.T, b []byte) {
	t.Helper()
	for name, f := range forbidden() {
		if bytes.Contains(b, f) {
			t.Errorf("%s (%q) survives at %d", name, f, bytes.Index(b, f))
		}
	}
}

// exifTags parses a TIFF block with go-exif and returns its GPS tags and
// its Make and Orientation values.
func exifTags(t *testing.T, tiff []byte) (gps []string, mk, orient string) {
	t.Helper()
	tags, _, err := exif.GetFlatExifData(tiff, nil)
	if err != nil {
		t.Fatalf("go-exif cannot read the EXIF: %v", err)
	}
	for _, tag := range tags {
		// The GPSInfo pointer itself may stay: it leads to an empty IFD.
		if strings.Contains(tag.IfdPath, "GPS") || strings.HasPrefix(tag.TagName, "GPS") && tag.TagName != "GPSTag" {
			gps = append(gps, tag.TagName+"="+tag.Formatted)
		}
		switch tag.TagName {
		case "Make":
			mk = tag.FormattedFirst
		case "Orientation":
			orient = tag.FormattedFirst
		}
	}
	return gps, mk, orient
}

// checkEXIF requires Make and Orientation, and no GPS tags.
func checkEXIF(t *testing.T, tiff []byte) {
	t.Helper()
	gps, mk, orient := exifTags(t, tiff)
	if len(gps) > 0 {
		t.Errorf("GPS tags left: %v", gps)
	}
	if mk != testMake || orient != "6" {
		t.Errorf("Make %q, Orientation %q; want %q, 6", mk, orient, testMake)
	}
}

// checkXMP parses an XMP packet with encoding/xml and requires that no
// element or attribute has a location name, while orientation, make and
// city survive.
func checkXMP(t *testing.T, packet []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(packet))
	var orient, mk, city bool
	var last string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("stripped XMP is not XML: %v\n%s", err, packet)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			last = tok.Name.Local
			if isLocationName([]byte(tok.Name.Local)) {
				t.Errorf("element %s left", tok.Name.Local)
			}
			for _, a := range tok.Attr {
				if a.Name.Space != "xmlns" && isLocationName([]byte(a.Name.Local)) {
					t.Errorf("attribute %s=%q left", a.Name.Local, a.Value)
				}
				if a.Name.Local == "Orientation" && a.Value == "6" {
					orient = true
				}
			}
		case xml.CharData:
			mk = mk || last == "Make" && string(tok) == testMake
			city = city || last == "City" && string(tok) == "Springfield"
		case xml.EndElement:
			last = ""
		}
	}
	if !orient || !mk {
		t.Errorf("Orientation kept %v, Make kept %v", orient, mk)
	}
	if bytes.Contains(packet, []byte("Iptc4xmpExt:City")) && !city {
		t.Errorf("City lost")
	}
}

// assertSamePixels decodes both files and compares every pixel.
func assertSamePixels(t *testing.T, before, after []byte) {
	t.Helper()
	a, _, err := image.Decode(bytes.NewReader(before))
	if err != nil {
		t.Fatalf("decode original: %v", err)
	}
	b, _, err := image.Decode(bytes.NewReader(after))
	if err != nil {
		t.Fatalf("decode stripped: %v", err)
	}
	if a.Bounds() != b.Bounds() {
		t.Fatalf("bounds %v, want %v", b.Bounds(), a.Bounds())
	}
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				t.Fatalf("pixel %d,%d: %v, want %v", x, y, b.At(x, y), a.At(x, y))
			}
		}
	}
}

// assertStripped runs the checks common to every container: changed is
// reported, the size is kept, no coordinates remain and a second run
// changes nothing.
func assertStripped(t *testing.T, in []byte, mimeType string) []byte {
	t.Helper()
	out, changed, err := stripBytes(t, in, mimeType)
	if err != nil {
		t.Fatalf("Strip: %v", err)
	}
	if !changed {
		t.Errorf("changed = false, want true")
	}
	if got, want := len(out), len(in); got != want {
		t.Errorf("size %d, want %d", got, want)
	}
	assertNoCoordinates(t, out)
	again, changed, err := stripBytes(t, out, mimeType)
	if err != nil || changed || !bytes.Equal(again, out) {
		t.Errorf("second Strip: changed %v, err %v, bytes equal %v; want false, nil, true", changed, err, bytes.Equal(again, out))
	}
	return out
}

// assertUntouched requires Strip to report no change and keep every byte.
func assertUntouched(t *testing.T, in []byte, mimeType string) {
	t.Helper()
	out, changed, err := stripBytes(t, in, mimeType)
	if err != nil {
		t.Fatalf("Strip: %v", err)
	}
	if changed || !bytes.Equal(out, in) {
		t.Errorf("changed %v, bytes equal %v; want false, true", changed, bytes.Equal(out, in))
	}
}
