package gpsstrip

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStripExiftool reads stripped files back with exiftool, the most
// thorough metadata reader around: before, it must report the planted
// location; after, no GPS or location tag, no new warning, and Make and
// Orientation where EXIF carried them. Skipped when exiftool is absent
// (Debian: libimage-exiftool-perl); the go-exif and XML checks elsewhere
// need nothing installed.
func TestStripExiftool(t *testing.T) {
	exiftool, err := exec.LookPath("exiftool")
	if err != nil {
		t.Skip("exiftool not installed")
	}
	xmpNS := "http://ns.adobe.com/xap/1.0/\x00"
	tests := []struct {
		name, mime, ext string
		in              []byte
		wantMake        bool
	}{
		{name: "jpeg II", mime: "image/jpeg", ext: ".jpg", wantMake: true, in: jpegWith(t,
			app1("Exif\x00\x00", exifTIFF(binary.LittleEndian, true)), app1(xmpNS, xmpPacket(true)))},
		{name: "jpeg MM", mime: "image/jpeg", ext: ".jpg", wantMake: true, in: jpegWith(t,
			app1("Exif\x00\x00", exifTIFF(binary.BigEndian, true)))},
		{name: "png", mime: "image/png", ext: ".png", wantMake: true, in: pngWith(t, [][]byte{
			pngChunk("eXIf", exifTIFF(binary.BigEndian, true)), pngChunk("iTXt", itxt("XML:com.adobe.xmp", xmpPacket(true)))}, nil)},
		{name: "webp", mime: "image/webp", ext: ".webp", wantMake: true, in: webpWith(
			riffChunk("EXIF", exifTIFF(binary.LittleEndian, true)), riffChunk("XMP ", xmpPacket(true)))},
		{name: "gif", mime: "image/gif", ext: ".gif", in: gifWith(t, gifXMPExtension(xmpPacket(true)))},
		{name: "mov", mime: "video/quicktime", ext: ".mov", in: bytes.Join([][]byte{mp4Ftyp(), mp4Moov(true), mp4Box("mdat", []byte("x"))}, nil)},
	}
	read := func(t *testing.T, p string) map[string]any {
		out, err := exec.Command(exiftool, "-j", "-a", "-G1", "-n", p).Output()
		if err != nil {
			t.Fatalf("exiftool: %v", err)
		}
		var tags []map[string]any
		if err := json.Unmarshal(out, &tags); err != nil || len(tags) != 1 {
			t.Fatalf("exiftool output: %v %s", err, out)
		}
		return tags[0]
	}
	// location lists location tags; place names (the planted city) stay.
	location := func(tags map[string]any) []string {
		var found []string
		for k, v := range tags {
			name := strings.ToLower(k)
			if strings.Contains(name, "gps") || strings.Contains(name, "latitude") || strings.Contains(name, "longitude") ||
				strings.Contains(name, "location") && !strings.HasSuffix(name, "city") || strings.Contains(name, "coordinates") ||
				strings.HasSuffix(name, ":lat") || strings.HasSuffix(name, ":long") {
				found = append(found, k)
			}
			if s, ok := v.(string); ok && strings.Contains(s, "51.5") {
				found = append(found, k+"="+s)
			}
		}
		return found
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "f"+tt.ext)
			os.WriteFile(p, tt.in, 0o600)
			before := read(t, p)
			if len(location(before)) == 0 {
				t.Fatalf("exiftool sees no planted location: %v", before)
			}
			if changed, err := Strip(context.Background(), p, tt.mime); err != nil || !changed {
				t.Fatalf("Strip = %v, %v", changed, err)
			}
			after := read(t, p)
			if got := location(after); len(got) > 0 {
				t.Errorf("exiftool still reports %v", got)
			}
			for k, v := range after {
				if strings.HasSuffix(k, ":Warning") && before[k] != v {
					t.Errorf("new warning %s: %v", k, v)
				}
			}
			if tt.wantMake {
				if after["IFD0:Make"] != testMake || after["IFD0:Orientation"] != float64(testOrient) {
					t.Errorf("Make %v, Orientation %v; want %q, %d", after["IFD0:Make"], after["IFD0:Orientation"], testMake, testOrient)
				}
			}
		})
	}
}
