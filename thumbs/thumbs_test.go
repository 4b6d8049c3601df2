package thumbs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func newMaker(t *testing.T, widths ...int) *Maker {
	t.Helper()
	m, err := New(Options{Widths: widths, Quality: 82, MaxPixels: 50_000_000, MaxDecodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// decodeThumb opens a thumbnail and checks that its bytes are of the
// format its Type claims and of the size its Size claims.
func decodeThumb(t *testing.T, th Thumbnail) image.Image {
	t.Helper()
	img, format, err := image.Decode(bytes.NewReader(th.Data))
	if err != nil {
		t.Fatalf("decode %dw.%s: %v", th.Width, th.Ext, err)
	}
	want := map[string]struct{ format, ext string }{"image/jpeg": {"jpeg", "jpg"}, "image/png": {"png", "png"}, "image/webp": {"webp", "webp"}, "image/avif": {"avif", "avif"}}[th.Type]
	if format != want.format || th.Ext != want.ext {
		t.Errorf("%dw holds %s, Type says %s, Ext %s", th.Width, format, th.Type, th.Ext)
	}
	if got, want := img.Bounds().Size(), image.Pt(th.Width, th.Height); got != want {
		t.Errorf("%dw.%s is %v, Size says %v", th.Width, th.Ext, got, want)
	}
	return img
}

func sizes(ts []Thumbnail) []Size {
	var s []Size
	for _, t := range ts {
		s = append(s, t.Size)
	}
	return s
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// An 800×600 photo with each EXIF orientation: the displayed size, the
// thumbnail sizes (none at 640 for portrait: 640 ≥ 600), and the corner
// in which the stored top-left (painted red) must appear.
func TestMakeOrientation(t *testing.T) {
	tests := []struct {
		orientation int
		wantSize    Size
		wantThumbs  []Size
		wantCorner  string
	}{
		{0, Size{800, 600}, []Size{{320, 240}, {640, 480}}, "top-left"},
		{1, Size{800, 600}, []Size{{320, 240}, {640, 480}}, "top-left"},
		{2, Size{800, 600}, []Size{{320, 240}, {640, 480}}, "top-right"},
		{3, Size{800, 600}, []Size{{320, 240}, {640, 480}}, "bottom-right"},
		{4, Size{800, 600}, []Size{{320, 240}, {640, 480}}, "bottom-left"},
		{5, Size{600, 800}, []Size{{320, 427}}, "top-left"},
		{6, Size{600, 800}, []Size{{320, 427}}, "top-right"},
		{7, Size{600, 800}, []Size{{320, 427}}, "bottom-right"},
		{8, Size{600, 800}, []Size{{320, 427}}, "bottom-left"},
	}
	for _, tt := range tests {
		t.Run(string(rune('0'+tt.orientation)), func(t *testing.T) {
			m := newMaker(t, 1280, 320, 640)
			src := writeFile(t, "photo.jpg", jpegBytes(t, markedImage(800, 600), tt.orientation))
			before := fileHash(t, src)

			size, err := m.Probe(context.Background(), src, "image/jpeg")
			if err != nil {
				t.Fatal(err)
			}
			if size != tt.wantSize {
				t.Errorf("Probe = %v, want %v", size, tt.wantSize)
			}

			img, err := m.Make(context.Background(), src, "image/jpeg")
			if err != nil {
				t.Fatal(err)
			}
			if img.Size != tt.wantSize {
				t.Errorf("Make size = %v, want %v", img.Size, tt.wantSize)
			}
			if diff := cmp.Diff(sizes(img.Thumbnails), tt.wantThumbs); diff != "" {
				t.Errorf("thumbnail sizes (-got +want):\n%s", diff)
			}
			for _, th := range img.Thumbnails {
				if th.Ext != "jpg" || th.Type != "image/jpeg" {
					t.Errorf("thumbnail of a JPEG is %s %s, want jpg image/jpeg", th.Ext, th.Type)
				}
				if got := redCorner(decodeThumb(t, th)); got != tt.wantCorner {
					t.Errorf("%dw: red corner %s, want %s", th.Width, got, tt.wantCorner)
				}
			}
			if fileHash(t, src) != before {
				t.Error("source file changed")
			}
		})
	}
}

func TestMakeFormats(t *testing.T) {
	webpLossy := webpBytes(t, markedImage(150, 100), false)
	webpAlpha := webpBytes(t, alphaImage(75, 100), true)
	tests := []struct {
		name       string
		mimeType   string
		data       []byte
		widths     []int
		wantSize   Size
		wantThumbs []Size
		wantType   string
		wantCorner string // "" to skip
	}{
		{"png", "image/png", pngBytes(t, markedImage(500, 300)), []int{100, 200, 1000}, Size{500, 300}, []Size{{100, 60}, {200, 120}}, "image/png", "top-left"},
		// The first frame is all red, the second all grey: red everywhere
		// ("several" corners) shows the first frame was used.
		{"animated gif first frame", "image/gif", animatedGIF(t, 400, 200), []int{100}, Size{400, 200}, []Size{{100, 50}}, "image/png", "several"},
		{"webp lossy", "image/webp", webpLossy, []int{50, 100}, Size{150, 100}, []Size{{50, 33}, {100, 67}}, "image/jpeg", "top-left"},
		{"webp with alpha", "image/webp", webpAlpha, []int{30}, Size{75, 100}, []Size{{30, 40}}, "image/png", ""},
		{"lossy webp with alpha", "image/webp", webpBytes(t, alphaImage(75, 100), false), []int{30}, Size{75, 100}, []Size{{30, 40}}, "image/png", ""},
		{"avif with alpha", "image/avif", avifBytes(t, alphaImage(80, 40)), []int{40}, Size{80, 40}, []Size{{40, 20}}, "image/png", ""},
		{"tiny image smaller than every width", "image/png", pngBytes(t, markedImage(10, 10)), []int{320, 640}, Size{10, 10}, nil, "", ""},
		{"same width as image", "image/jpeg", jpegBytes(t, markedImage(320, 200), 0), []int{320}, Size{320, 200}, nil, "", ""},
		{"no widths configured", "image/jpeg", jpegBytes(t, markedImage(800, 600), 0), nil, Size{800, 600}, nil, "", ""},
		{"1x10000 strip", "image/png", pngBytes(t, markedImage(1, 10000)), []int{320, 640, 1280}, Size{1, 10000}, nil, "", ""},
		{"10000x1 strip", "image/png", pngBytes(t, markedImage(10000, 1)), []int{320, 640}, Size{10000, 1}, []Size{{320, 1}, {640, 1}}, "image/png", ""},
		{"10000x1 strip jpeg", "image/jpeg", jpegBytes(t, markedImage(10000, 1), 6), []int{320}, Size{1, 10000}, nil, "", ""},
		{"1x10000 strip jpeg turned", "image/jpeg", jpegBytes(t, markedImage(1, 10000), 8), []int{320, 640}, Size{10000, 1}, []Size{{320, 1}, {640, 1}}, "image/jpeg", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMaker(t, tt.widths...)
			src := writeFile(t, "upload", tt.data)
			before := fileHash(t, src)
			img, err := m.Make(context.Background(), src, tt.mimeType)
			if err != nil {
				t.Fatal(err)
			}
			if img.Size != tt.wantSize {
				t.Errorf("size = %v, want %v", img.Size, tt.wantSize)
			}
			if diff := cmp.Diff(sizes(img.Thumbnails), tt.wantThumbs); diff != "" {
				t.Errorf("thumbnail sizes (-got +want):\n%s", diff)
			}
			for _, th := range img.Thumbnails {
				if th.Type != tt.wantType {
					t.Errorf("type = %s, want %s", th.Type, tt.wantType)
				}
				got := decodeThumb(t, th)
				if tt.wantCorner != "" {
					if c := redCorner(got); c != tt.wantCorner {
						t.Errorf("red corner = %s, want %s", c, tt.wantCorner)
					}
				}
			}
			if fileHash(t, src) != before {
				t.Error("source file changed")
			}
		})
	}
}

// A PNG with transparency keeps it in its PNG thumbnails.
func TestMakeKeepsAlpha(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 400, 400))
	for i := 3; i < len(src.Pix); i += 4 {
		src.Pix[i-3], src.Pix[i] = 200, 0 // fully transparent
	}
	m := newMaker(t, 100)
	img, err := m.Make(context.Background(), writeFile(t, "a.png", pngBytes(t, src)), "image/png")
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Thumbnails) != 1 {
		t.Fatalf("got %d thumbnails, want 1", len(img.Thumbnails))
	}
	if _, _, _, a := decodeThumb(t, img.Thumbnails[0]).At(50, 50).RGBA(); a != 0 {
		t.Errorf("alpha = %d, want 0", a)
	}
}

func TestRefused(t *testing.T) {
	good := jpegBytes(t, markedImage(800, 600), 6)
	tests := []struct {
		name      string
		mimeType  string
		data      []byte
		wantErr   error
		probeToo  bool // Probe (no decode) already refuses it
		maxPixels int64
	}{
		{"truncated jpeg", "image/jpeg", good[:len(good)/2], ErrUndecodable, true, 0},
		{"jpeg cut inside header", "image/jpeg", good[:40], ErrUndecodable, true, 0},
		{"garbage", "image/jpeg", bytes.Repeat([]byte("not an image "), 100), ErrUndecodable, true, 0},
		{"png sniffed as jpeg", "image/jpeg", pngBytes(t, markedImage(800, 600)), ErrUndecodable, true, 0},
		{"empty file", "image/png", nil, ErrUndecodable, true, 0},
		{"truncated png", "image/png", pngBytes(t, markedImage(800, 600))[:300], ErrUndecodable, true, 0},
		{"truncated gif", "image/gif", animatedGIF(t, 400, 200)[:100], ErrUndecodable, true, 0},
		{"png header claiming 100000x100000", "image/png", pngHeaderOnly(100_000, 100_000), ErrTooManyPixels, true, 0},
		{"png header claiming 65536x65536 (2^32 pixels, overflows 32 bits)", "image/png", pngHeaderOnly(1<<16, 1<<16), ErrTooManyPixels, true, 0},
		{"one pixel over the limit", "image/jpeg", good, ErrTooManyPixels, true, 800*600 - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			max := tt.maxPixels
			if max == 0 {
				max = 50_000_000
			}
			m, err := New(Options{Widths: []int{320, 640}, MaxPixels: max})
			if err != nil {
				t.Fatal(err)
			}
			src := writeFile(t, "upload", tt.data)
			_, err = m.Probe(context.Background(), src, tt.mimeType)
			if tt.probeToo && !errors.Is(err, tt.wantErr) {
				t.Errorf("Probe error = %v, want %v", err, tt.wantErr)
			}
			if !tt.probeToo && err != nil {
				t.Errorf("Probe error = %v, want nil (the header is intact)", err)
			}
			img, err := m.Make(context.Background(), src, tt.mimeType)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Make error = %v, want %v", err, tt.wantErr)
			}
			if len(img.Thumbnails) != 0 {
				t.Errorf("Make returned %d thumbnails with its error", len(img.Thumbnails))
			}

		})
	}
}

// Exactly MaxPixels is allowed: the limit is inclusive.
func TestMaxPixelsInclusive(t *testing.T) {
	m, err := New(Options{MaxPixels: 800 * 600})
	if err != nil {
		t.Fatal(err)
	}
	src := writeFile(t, "a.jpg", jpegBytes(t, markedImage(800, 600), 0))
	if _, err := m.Probe(context.Background(), src, "image/jpeg"); err != nil {
		t.Fatal(err)
	}
}

func TestNotAnImageType(t *testing.T) {
	m := newMaker(t, 320)
	src := writeFile(t, "a.mp4", []byte("\x00\x00\x00\x18ftypmp42"))
	_, err := m.Make(context.Background(), src, "video/mp4")
	if err == nil || errors.Is(err, ErrUndecodable) || errors.Is(err, ErrTooManyPixels) {
		t.Errorf("Make(video/mp4) error = %v, want a plain (500) error: the caller should not ask", err)
	}
}

func TestMissingFileIsNotUndecodable(t *testing.T) {
	m := newMaker(t, 320)
	_, err := m.Make(context.Background(), filepath.Join(t.TempDir(), "gone.jpg"), "image/jpeg")
	if !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrUndecodable) {
		t.Errorf("error = %v, want not-exist and not ErrUndecodable", err)
	}
}

// With every decode slot taken, Make waits, and gives up when its context
// ends, without decoding.
func TestMakeWaitsForDecodeSlot(t *testing.T) {
	m, err := New(Options{Widths: []int{100}, MaxPixels: 1 << 30, MaxDecodes: 1})
	if err != nil {
		t.Fatal(err)
	}
	src := writeFile(t, "a.jpg", jpegBytes(t, markedImage(400, 300), 0))
	release, err := m.acquire(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := m.Make(ctx, src, "image/jpeg"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Make with no free slot: error = %v, want deadline exceeded", err)
	}
	release()
	img, err := m.Make(context.Background(), src, "image/jpeg")
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Thumbnails) != 1 {
		t.Errorf("got %d thumbnails after the slot was freed, want 1", len(img.Thumbnails))
	}
}

// Many concurrent Make calls on one Maker all succeed, each with its own
// files (run with -race to check the shared state).
func TestMakeConcurrent(t *testing.T) {
	m, err := New(Options{Widths: []int{64, 128}, MaxPixels: 1 << 30, MaxDecodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	src := writeFile(t, "a.jpg", jpegBytes(t, markedImage(400, 300), 6))
	errs := make(chan error, 16)
	for range 16 {
		go func() {
			img, err := m.Make(context.Background(), src, "image/jpeg")
			if err == nil && len(img.Thumbnails) != 2 {
				err = errors.New("wrong number of thumbnails")
			}
			errs <- err
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := len(m.sem); n != 0 {
		t.Errorf("%d decode slots still held after every Make returned", n)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr bool
	}{
		{"defaults", Options{MaxPixels: 1}, false},
		{"zero width", Options{Widths: []int{0}, MaxPixels: 1}, true},
		{"negative width", Options{Widths: []int{-320}, MaxPixels: 1}, true},
		{"quality 101", Options{Quality: 101, MaxPixels: 1}, true},
		{"negative quality", Options{Quality: -1, MaxPixels: 1}, true},
		{"no pixel limit", Options{}, true},
		{"negative max decodes", Options{MaxPixels: 1, MaxDecodes: -1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if got := err != nil; got != tt.wantErr {
				t.Errorf("New error = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

// Duplicate and unordered widths give one thumbnail each, ascending.
func TestWidthsDeduplicated(t *testing.T) {
	m := newMaker(t, 200, 100, 200, 50)
	img, err := m.Make(context.Background(), writeFile(t, "a.png", pngBytes(t, markedImage(400, 400))), "image/png")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sizes(img.Thumbnails), []Size{{50, 50}, {100, 100}, {200, 200}}); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
}

func TestQualityApplied(t *testing.T) {
	src := writeFile(t, "a.jpg", jpegBytes(t, markedImage(800, 600), 0))
	size := func(q int) int64 {
		m, err := New(Options{Widths: []int{640}, Quality: q, MaxPixels: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		img, err := m.Make(context.Background(), src, "image/jpeg")
		if err != nil {
			t.Fatal(err)
		}
		return int64(len(img.Thumbnails[0].Data))
	}
	if lo, hi := size(10), size(100); lo >= hi {
		t.Errorf("quality 10 gave %d bytes, quality 100 gave %d", lo, hi)
	}
}

func TestIsImage(t *testing.T) {
	tests := []struct {
		mimeType string
		want     bool
	}{
		{"image/jpeg", true},
		{"image/png", true},
		{"image/gif", true},
		{"image/webp", true},
		{"image/bmp", false},
		{"image/tiff", false},
		{"image/svg+xml", false},
		{"video/mp4", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsImage(tt.mimeType); got != tt.want {
			t.Errorf("IsImage(%q) = %v, want %v", tt.mimeType, got, tt.want)
		}
	}
}

// The TIFF and BMP decoders that imaging registers with package image are
// not reachable: a TIFF labelled as any allowed type is undecodable.
func TestTIFFNotDecoded(t *testing.T) {
	tiff := []byte("II*\x00\x08\x00\x00\x00\x00\x00")
	m := newMaker(t, 1)
	for _, mt := range []string{"image/jpeg", "image/png", "image/gif", "image/webp"} {
		if _, err := m.Probe(context.Background(), writeFile(t, "a", tiff), mt); !errors.Is(err, ErrUndecodable) {
			t.Errorf("TIFF as %s: error = %v, want ErrUndecodable", mt, err)
		}
	}
}

// A GIF whose first frame covers only part of the logical screen gives
// thumbnails of the whole screen, the frame in its place and the rest
// transparent.
func TestMakeGIFPartialFirstFrame(t *testing.T) {
	frame := image.NewPaletted(image.Rect(20, 20, 120, 80), color.Palette{color.Transparent, red})
	for i := range frame.Pix {
		frame.Pix[i] = 1
	}
	var buf bytes.Buffer
	err := gif.EncodeAll(&buf, &gif.GIF{
		Image:  []*image.Paletted{frame},
		Delay:  []int{0},
		Config: image.Config{Width: 400, Height: 200, ColorModel: frame.Palette},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := newMaker(t, 200)
	img, err := m.Make(context.Background(), writeFile(t, "a.gif", buf.Bytes()), "image/gif")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sizes(img.Thumbnails), []Size{{200, 100}}); diff != "" {
		t.Fatalf("(-got +want):\n%s", diff)
	}
	th := decodeThumb(t, img.Thumbnails[0])
	if c := th.At(35, 25); !isRed(c) {
		t.Errorf("inside the frame: %v, want red", c)
	}
	if _, _, _, a := th.At(150, 80).RGBA(); a != 0 {
		t.Errorf("outside the frame: alpha %d, want 0", a)
	}
}

// TestRefusedWithoutThumbnails: an image too small for any thumbnail, or
// with thumbnails off, is not decoded but still walked, so a truncated
// one is refused.
func TestRefusedWithoutThumbnails(t *testing.T) {
	small := jpegBytes(t, markedImage(200, 150), 1)
	for _, tt := range []struct {
		name     string
		widths   []int
		mimeType string
		data     []byte
		wantErr  error
	}{
		{"small jpeg, intact", []int{320}, "image/jpeg", small, nil},
		{"small jpeg, truncated", []int{320}, "image/jpeg", small[:len(small)/2], ErrUndecodable},
		{"thumbnails off, truncated jpeg", nil, "image/jpeg", small[:len(small)/2], ErrUndecodable},
		{"thumbnails off, truncated png", nil, "image/png", pngBytes(t, markedImage(200, 150))[:300], ErrUndecodable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(Options{Widths: tt.widths, MaxPixels: 50_000_000})
			if err != nil {
				t.Fatal(err)
			}
			img, err := m.Make(context.Background(), writeFile(t, "upload", tt.data), tt.mimeType)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Make error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (img.Width != 200 || img.Height != 150 || len(img.Thumbnails) != 0) {
				t.Errorf("Make = %+v, want 200x150 without thumbnails", img)
			}
		})
	}
}
