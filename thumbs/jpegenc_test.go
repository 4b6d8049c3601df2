package thumbs

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"testing"
)

// encodeJPEG's bands must decode to exactly the pixels of one whole
// jpeg.Encode, for every source layout the thumbnails use, at sizes that
// give one band up to maxBands, partial last MCU rows and sub-images
// that do not start at the origin.
func TestEncodeJPEGBands(t *testing.T) {
	photo := func(w, h int) *image.YCbCr {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, mildImage(w, h), &jpeg.Options{Quality: 95}); err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(&buf)
		if err != nil {
			t.Fatal(err)
		}
		return img.(*image.YCbCr)
	}
	gray := func(w, h int) *image.Gray {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i := range g.Pix {
			g.Pix[i] = uint8(i*7 + i/w)
		}
		return g
	}
	opaque := func(w, h int) image.Image { return opaqueRGBA(mildImage(w, h)) }
	cases := []struct {
		name      string
		img       image.Image
		wantBands int
	}{
		{"ycbcr/small", photo(64, 100), 1},
		{"ycbcr/2", photo(200, 16*24), 2},
		{"ycbcr/1280x960", photo(1280, 960), 4},
		{"ycbcr/partial", photo(333, 16*37+5), 3},
		{"ycbcr/sub", photo(300, 700).SubImage(image.Rect(3, 5, 290, 699)), 3},
		{"gray", gray(100, 8*30+3), 2},
		{"rgba", opaque(150, 16*50), 4},
		{"rgba/sub", opaque(150, 800).(*image.RGBA).SubImage(image.Rect(1, 7, 149, 799)), 4},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			var whole, banded bytes.Buffer
			if err := jpeg.Encode(&whole, tt.img, &jpeg.Options{Quality: 82}); err != nil {
				t.Fatal(err)
			}
			if err := encodeJPEG(&banded, tt.img, 82); err != nil {
				t.Fatal(err)
			}
			if got := bytes.Count(banded.Bytes(), []byte{0xff, 0xdd}) + restarts(banded.Bytes()); tt.wantBands > 1 && got != tt.wantBands {
				t.Errorf("DRI + restart markers: %d, want %d bands", got, tt.wantBands)
			}
			if tt.wantBands == 1 && !bytes.Equal(banded.Bytes(), whole.Bytes()) {
				t.Error("one band differs from jpeg.Encode")
			}
			want, err := jpeg.Decode(&whole)
			if err != nil {
				t.Fatal(err)
			}
			got, err := jpeg.Decode(&banded)
			if err != nil {
				t.Fatalf("decode the banded JPEG: %v", err)
			}
			if err := samePixels(got, want); err != nil {
				t.Error(err)
			}
		})
	}
}

// restarts counts RSTn markers (entropy-coded data holds no other 0xFF
// but stuffed 0xFF00).
func restarts(jpg []byte) int {
	n := 0
	for i := 0; i+1 < len(jpg); i++ {
		if jpg[i] == 0xff && jpg[i+1] >= 0xd0 && jpg[i+1] <= 0xd7 {
			n++
		}
	}
	return n
}

func samePixels(a, b image.Image) error {
	if a.Bounds() != b.Bounds() {
		return fmt.Errorf("bounds %v, want %v", a.Bounds(), b.Bounds())
	}
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				return fmt.Errorf("(%d,%d) = %v, want %v", x, y, a.At(x, y), b.At(x, y))
			}
		}
	}
	return nil
}
