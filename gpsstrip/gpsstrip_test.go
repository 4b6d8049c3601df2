package gpsstrip

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestStripTypes(t *testing.T) {
	gpsJPEG := jpegWith(t, app1("Exif\x00\x00", exifTIFF(binary.LittleEndian, true)))
	tests := []struct {
		name, mime  string
		in          []byte
		wantChanged bool
	}{
		{name: "unknown type", mime: "application/pdf", in: gpsJPEG},
		{name: "empty type", mime: "", in: gpsJPEG},
		{name: "parameters and case", mime: "Image/JPEG; q=1", in: gpsJPEG, wantChanged: true},
		{name: "webm without tags", mime: "video/webm", in: ebmlEl(ebmlHeaderID)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed, err := stripBytes(t, tt.in, tt.mime)
			if err != nil {
				t.Fatalf("Strip: %v", err)
			}
			if got, want := changed, tt.wantChanged; got != want {
				t.Errorf("changed = %v, want %v", got, want)
			}
			if got, want := bytes.Equal(out, tt.in), !tt.wantChanged; got != want {
				t.Errorf("bytes equal = %v, want %v", got, want)
			}
		})
	}
}

func TestStripFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Strip(context.Background(), filepath.Join(dir, "missing"), "image/jpeg"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v, want fs.ErrNotExist", err)
	}

	// A read-only file with nothing to change is fine; one that needs
	// changing reports the failed open and stays as it was.
	clean := filepath.Join(dir, "clean.jpg")
	os.WriteFile(clean, jpegWith(t), 0o400)
	if changed, err := Strip(context.Background(), clean, "image/jpeg"); changed || err != nil {
		t.Errorf("read-only clean file: %v, %v; want false, nil", changed, err)
	}
	if os.Geteuid() != 0 { // root may write anyway
		dirty := filepath.Join(dir, "dirty.jpg")
		in := jpegWith(t, app1("Exif\x00\x00", exifTIFF(binary.BigEndian, true)))
		os.WriteFile(dirty, in, 0o400)
		if _, err := Strip(context.Background(), dirty, "image/jpeg"); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("read-only file with GPS: err = %v, want fs.ErrPermission", err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := filepath.Join(dir, "cancelled.jpg")
	os.WriteFile(p, jpegWith(t, app1("Exif\x00\x00", exifTIFF(binary.BigEndian, true))), 0o600)
	if _, err := Strip(ctx, p, "image/jpeg"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
}

func BenchmarkStrip(b *testing.B) {
	jpegIn := jpegWith(b, app1("Exif\x00\x00", exifTIFF(binary.LittleEndian, true)),
		app1("http://ns.adobe.com/xap/1.0/\x00", xmpPacket(true)))
	movIn := bytes.Join([][]byte{mp4Ftyp(), mp4Box("mdat", make([]byte, 8<<20)), mp4Moov(true)}, nil)
	for _, bb := range []struct {
		name, mime string
		in         []byte
	}{
		{"jpeg exif+xmp", "image/jpeg", jpegIn},
		{"mov 8MiB mdat", "video/quicktime", movIn},
	} {
		b.Run(bb.name, func(b *testing.B) {
			p := filepath.Join(b.TempDir(), "f")
			for b.Loop() {
				b.StopTimer()
				os.WriteFile(p, bb.in, 0o600)
				b.StartTimer()
				if changed, err := Strip(context.Background(), p, bb.mime); err != nil || !changed {
					b.Fatal(changed, err)
				}
			}
		})
	}
}
