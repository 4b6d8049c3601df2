package thumbs

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"testing"
)

func gifBytes(t testing.TB, img image.Image) []byte {
	t.Helper()
	p := image.NewPaletted(img.Bounds(), palette.Plan9)
	draw.Draw(p, p.Rect, img, image.Point{}, draw.Src)
	var buf bytes.Buffer
	if err := gif.Encode(&buf, p, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// near reports whether c is within tol levels of want in R, G and B.
func near(c color.Color, want color.RGBA, tol int) bool {
	r, g, b, _ := c.RGBA()
	d := func(a uint32, w uint8) bool { v := int(a>>8) - int(w); return v <= tol && v >= -tol }
	return d(r, want.R) && d(g, want.G) && d(b, want.B)
}

// Every source format × every thumbnail format: sizes, the file's real
// format, and the colours of the source in a few pixels (the red block at
// the top left, grey elsewhere).
func TestFormatPairs(t *testing.T) {
	src := markedImage(400, 300)
	sources := []struct {
		name, mimeType string
		data           []byte
		same           string // what `same` gives
	}{
		{"jpeg", "image/jpeg", jpegBytes(t, src, 0), "image/jpeg"},
		{"png", "image/png", pngBytes(t, src), "image/png"},
		{"gif", "image/gif", gifBytes(t, src), "image/png"},
		{"webp lossy", "image/webp", webpBytes(t, src, false), "image/jpeg"},
		{"webp lossless", "image/webp", webpBytes(t, src, true), "image/png"},
		{"avif", "image/avif", avifBytes(t, src), "image/jpeg"},
	}
	for _, s := range sources {
		for _, f := range []string{FormatSame, FormatWebP, FormatAVIF} {
			t.Run(fmt.Sprintf("%s to %s", s.name, f), func(t *testing.T) {
				t.Parallel()
				m, err := New(Options{Widths: []int{200, 100}, Formats: []string{f}, MaxPixels: 1 << 24})
				if err != nil {
					t.Fatal(err)
				}
				img, err := m.Make(context.Background(), writeFile(t, "up", s.data), s.mimeType)
				if err != nil {
					t.Fatal(err)
				}
				if img.Size != (Size{400, 300}) || len(img.Thumbnails) != 2 {
					t.Fatalf("Make = %+v", img)
				}
				wantType := map[string]string{FormatSame: s.same, FormatWebP: "image/webp", FormatAVIF: "image/avif"}[f]
				for i, th := range img.Thumbnails {
					if want := (Size{100 * (i + 1), 75 * (i + 1)}); th.Size != want || th.Type != wantType {
						t.Errorf("thumbnail %d: %v %s, want %v %s", i, th.Size, th.Type, want, wantType)
					}
					got := decodeThumb(t, th)
					if c := redCorner(got); c != "top-left" {
						t.Errorf("%dw: red corner %s", th.Width, c)
					}
					b := got.Bounds()
					if c := got.At(b.Dx()*3/4, b.Dy()*3/4); !near(c, grey, 24) {
						t.Errorf("%dw: (3/4, 3/4) is %v, want about %v", th.Width, c, grey)
					}
				}
			})
		}
	}
}

// Formats are checked and deduplicated; each width comes in each format.
func TestFormatsOption(t *testing.T) {
	if _, err := New(Options{Formats: []string{"jxl"}, MaxPixels: 1}); err == nil {
		t.Error("New accepted format jxl")
	}
	m, err := New(Options{Widths: []int{100}, Formats: []string{"webp", "same", "webp"}, MaxPixels: 1 << 24})
	if err != nil {
		t.Fatal(err)
	}
	img, err := m.Make(context.Background(), writeFile(t, "a.png", pngBytes(t, markedImage(400, 300))), "image/png")
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, th := range img.Thumbnails {
		types = append(types, th.Ext)
	}
	if fmt.Sprint(types) != "[webp png]" {
		t.Errorf("thumbnails %v, want [webp png]", types)
	}
}
