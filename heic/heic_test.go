package heic

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	exif "github.com/dsoprea/go-exif/v3"
	heif "github.com/gen2brain/heic"
)

func writeFile(t testing.TB, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.heic")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func convertBytes(t testing.TB, src []byte, opts Options) (Result, []byte) {
	t.Helper()
	res, err := New(opts).Convert(context.Background(), writeFile(t, src), t.TempDir())
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	b, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

// checkQuadrants compares the centre of each quadrant of the decoded
// JPEG with the upright card's colours.
func checkQuadrants(t *testing.T, jpg []byte, w, h int) {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(jpg))
	if err != nil {
		t.Fatalf("decode result: %v", err)
	}
	if got := img.Bounds().Size(); got != image.Pt(w, h) {
		t.Fatalf("size %v, want %dx%d", got, w, h)
	}
	for q, want := range quadColours {
		x, y := w/4+(q%2)*w/2, h/4+(q/2)*h/2
		r, g, b, _ := img.At(x, y).RGBA()
		got := [3]int{int(r >> 8), int(g >> 8), int(b >> 8)}
		for i, c := range []uint8{want.R, want.G, want.B} {
			if d := got[i] - int(c); d < -40 || d > 40 {
				t.Errorf("quadrant %d at (%d,%d) = %v, want %v", q, x, y, got, want)
				break
			}
		}
	}
}

func TestConvertOrientations(t *testing.T) {
	const w, h = 256, 160
	upright := quadrants(w, h)
	tests := []struct {
		name         string
		rot, mirror  int // HEIF transforms: irot angle, imir mode (-1: none)
		exifOrient   int // what the camera wrote in EXIF besides
		wantW, wantH int
	}{
		{"none (EXIF 1)", 0, -1, 1, w, h},
		{"imir 1 (EXIF 2)", 0, 1, 2, w, h},
		{"irot 2 (EXIF 3)", 2, -1, 3, w, h},
		{"imir 0 (EXIF 4)", 0, 0, 4, w, h},
		{"irot 3 then imir 1 (EXIF 5)", 3, 1, 5, h, w},
		{"irot 3 (EXIF 6)", 3, -1, 6, h, w},
		{"irot 1 then imir 1 (EXIF 7)", 1, 1, 7, h, w},
		{"irot 1 (EXIF 8)", 1, -1, 8, h, w},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Upright after the transforms: stored is the card as the
			// camera's sensor saw it.
			var want *image.RGBA = upright
			if tt.wantW != w {
				want = quadrants(h, w)
			}
			src := makeHEIC(t, stored(want, tt.rot, tt.mirror), tiffEXIF(tt.exifOrient, binary.BigEndian), nil)
			src = withTransforms(t, src, tt.rot, tt.mirror)
			res, jpg := convertBytes(t, src, Options{})
			if res.Width != tt.wantW || res.Height != tt.wantH {
				t.Errorf("Result size %dx%d, want %dx%d", res.Width, res.Height, tt.wantW, tt.wantH)
			}
			checkQuadrants(t, jpg, tt.wantW, tt.wantH)
			if got := exifOrientation(t, jpg); got != 1 {
				t.Errorf("EXIF Orientation %d, want 1", got)
			}
		})
	}
}

// An EXIF Orientation with no HEIF transform does not turn the pixels:
// HEIF readers ignore it, and the JPEG must show what they show.
func TestConvertIgnoresEXIFOrientation(t *testing.T) {
	src := makeHEIC(t, quadrants(192, 128), tiffEXIF(6, binary.LittleEndian), nil)
	res, jpg := convertBytes(t, src, Options{})
	checkQuadrants(t, jpg, 192, 128)
	if got := exifOrientation(t, jpg); got != 1 {
		t.Errorf("EXIF Orientation %d, want 1", got)
	}
	if !res.EXIF {
		t.Error("Result.EXIF false, want true")
	}
}

// Images narrower than 128 pixels come back scrambled from the WASM
// decoder; the system library decodes them.
func TestConvertNarrow(t *testing.T) {
	src := makeHEIC(t, quadrants(96, 64), nil, nil)
	t.Logf("system libheif: %v", heif.Dynamic())
	dir := t.TempDir()
	res, err := New(Options{}).Convert(context.Background(), writeFile(t, src), dir)
	if heif.Dynamic() != nil {
		if !errors.Is(err, ErrUndecodable) {
			t.Fatalf("Convert under WASM: %v, want ErrUndecodable", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Convert with the system libheif: %v", err)
	}
	b, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	checkQuadrants(t, b, 96, 64)
}

func TestConvertMetadata(t *testing.T) {
	icc := fakeICC(3000)
	src := makeHEIC(t, quadrants(192, 128), tiffEXIF(1, binary.BigEndian), icc)
	if p, err := inspect(bytes.NewReader(src), int64(len(src)), DefaultMaxPixels); err != nil {
		t.Fatal(err)
	} else if !bytes.Equal(p.icc, icc) || p.exif == nil {
		t.Fatalf("heif-enc did not carry the ICC profile (%d bytes) or EXIF (%d bytes) into the HEIC", len(p.icc), len(p.exif))
	}
	res, jpg := convertBytes(t, src, Options{})
	if !res.ICC {
		t.Error("Result.ICC false, want true")
	}
	if got := jpegICC(t, jpg); !bytes.Equal(got, icc) {
		t.Errorf("ICC profile in the JPEG: %d bytes, differs from the HEIC's %d", len(got), len(icc))
	}
	tags := exifTags(t, jpg)
	if got := tags["Make"]; got != "Go" {
		t.Errorf("Make = %q, want Go (the rest of EXIF kept)", got)
	}
	for name := range tags {
		if len(name) >= 3 && name[:3] == "GPS" && name != "GPSTag" {
			t.Errorf("GPS tag %s = %q survived", name, tags[name])
		}
	}
	if bytes.Contains(jpg, []byte{0, 0, 0, 48, 0, 0, 0, 1, 0, 0, 0, 8}) {
		t.Error("the latitude's rationals are still in the file")
	}
	exiftoolCheck(t, res.Path)
}

// exiftoolCheck reads the converted JPEG with ExifTool, a second parser
// that knows every metadata block: no GPS tag at all, Orientation 1, and
// the ICC profile found.
func exiftoolCheck(t *testing.T, path string) {
	et, err := exec.LookPath("exiftool")
	if err != nil {
		t.Log("exiftool not installed (Debian: libimage-exiftool-perl): second reading skipped")
		return
	}
	out, err := exec.Command(et, "-j", "-G1", "-n", "-a", path).Output()
	if err != nil {
		t.Fatalf("exiftool: %v", err)
	}
	var tags []map[string]any
	if err := json.Unmarshal(out, &tags); err != nil || len(tags) != 1 {
		t.Fatalf("exiftool output %s: %v", out, err)
	}
	for k, v := range tags[0] {
		if strings.Contains(strings.ToLower(k), "gps") {
			t.Errorf("exiftool finds %s = %v", k, v)
		}
	}
	if got := tags[0]["IFD0:Orientation"]; got != 1.0 {
		t.Errorf("exiftool: IFD0:Orientation = %v, want 1", got)
	}
	if got := tags[0]["ICC_Profile:ProfileCopyright"]; got != "spano test" {
		t.Errorf("exiftool: ICC profile copyright %v, want the HEIC's", got)
	}
}

func TestConvertDeterministic(t *testing.T) {
	src := makeHEIC(t, quadrants(128, 96), tiffEXIF(1, binary.BigEndian), fakeICC(500))
	a, ab := convertBytes(t, src, Options{})
	b, bb := convertBytes(t, src, Options{})
	if a.SHA256 != b.SHA256 || !bytes.Equal(ab, bb) {
		t.Errorf("two conversions differ: %s and %s", a.SHA256, b.SHA256)
	}
	if a.Size != int64(len(ab)) {
		t.Errorf("Size %d, file has %d bytes", a.Size, len(ab))
	}
}

func TestConvertRefuses(t *testing.T) {
	src := makeHEIC(t, quadrants(128, 96), nil, nil)
	meta := bytes.Index(src, []byte("meta"))
	mdat := bytes.Index(src, []byte("mdat"))
	corruptMdat := bytes.Clone(src)
	for i := mdat + 8; i < len(src); i++ {
		corruptMdat[i] = byte(i * 31)
	}
	tests := []struct {
		name    string
		data    []byte
		opts    Options
		wantErr error
	}{
		{"too many pixels", src, Options{MaxPixels: 128*96 - 1}, ErrTooManyPixels},
		{"empty", nil, Options{}, ErrUndecodable},
		{"a JPEG", jpegOf(t), Options{}, ErrUndecodable},
		{"cut in the meta box", src[:meta+40], Options{}, ErrUndecodable},
		{"cut in the image data", src[:mdat+20], Options{}, ErrUndecodable},
		{"image data overwritten", corruptMdat, Options{}, ErrUndecodable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := New(tt.opts).Convert(context.Background(), writeFile(t, tt.data), dir)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Convert: %v, want %v", err, tt.wantErr)
			}
			if left, _ := os.ReadDir(dir); len(left) > 0 {
				t.Errorf("left %d files in dstDir", len(left))
			}
		})
	}
}

func TestConvertCancelled(t *testing.T) {
	src := makeHEIC(t, quadrants(64, 64), nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := t.TempDir()
	if _, err := New(Options{}).Convert(ctx, writeFile(t, src), dir); !errors.Is(err, context.Canceled) {
		t.Fatalf("Convert: %v, want context.Canceled", err)
	}
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Errorf("left %d files in dstDir", len(left))
	}
}

func jpegOf(t testing.TB) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, quadrants(16, 16), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// jpegSegments returns the payloads of the JPEG's marker segments with
// the given marker, up to the first scan.
func jpegSegments(t testing.TB, jpg []byte, marker byte) [][]byte {
	t.Helper()
	var out [][]byte
	for p := jpg[2:]; len(p) >= 4 && p[0] == 0xFF && p[1] != 0xDA; {
		n := int(binary.BigEndian.Uint16(p[2:]))
		if n < 2 || 2+n > len(p) {
			t.Fatalf("segment %x of %d bytes", p[1], n)
		}
		if p[1] == marker {
			out = append(out, p[4:2+n])
		}
		p = p[2+n:]
	}
	return out
}

func jpegICC(t testing.TB, jpg []byte) []byte {
	var icc []byte
	for _, s := range jpegSegments(t, jpg, 0xE2) {
		if bytes.HasPrefix(s, []byte("ICC_PROFILE\x00")) {
			icc = append(icc, s[14:]...)
		}
	}
	return icc
}

// exifTags reads IFD0 and its sub-IFDs with go-exif, by tag name.
func exifTags(t testing.TB, jpg []byte) map[string]string {
	t.Helper()
	raw, err := exif.SearchAndExtractExif(jpg)
	if err != nil {
		t.Fatalf("no EXIF: %v", err)
	}
	entries, _, err := exif.GetFlatExifData(raw, nil)
	if err != nil {
		t.Fatalf("read EXIF: %v", err)
	}
	tags := map[string]string{}
	for _, e := range entries {
		tags[e.TagName] = fmt.Sprint(e.Value)
	}
	return tags
}

func exifOrientation(t testing.TB, jpg []byte) int {
	t.Helper()
	tags := exifTags(t, jpg)
	var o int
	if _, err := fmt.Sscanf(tags["Orientation"], "[%d]", &o); err != nil {
		t.Fatalf("Orientation %q: %v", tags["Orientation"], err)
	}
	return o
}

// A Converter runs Options.Parallel conversions at once; a caller that
// waits for a slot gives up with its context.
func TestConvertWaitsForASlot(t *testing.T) {
	src := writeFile(t, makeHEIC(t, quadrants(128, 128), nil, nil))
	c := New(Options{Parallel: 1})
	c.slots <- struct{}{} // a conversion in progress
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Convert(ctx, src, t.TempDir()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Convert while the slot is taken: %v, want DeadlineExceeded", err)
	}
	<-c.slots
	res, err := c.Convert(context.Background(), src, t.TempDir())
	if err != nil || res.Width != 128 {
		t.Fatalf("Convert with the slot free: %+v, %v", res, err)
	}
}
