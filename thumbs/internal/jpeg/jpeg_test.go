package jpeg

import (
	"bytes"
	"image"
	stdjpeg "image/jpeg"
	"os"
	"path/filepath"
	"testing"
)

// The test files are the standard library's image/testdata JPEGs: every
// subsampling ratio, progressive and sequential, restart markers, grey,
// RGB and CMYK.
func testFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/*.jpeg")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found %d test files, want the 25 from image/testdata", len(files))
	}
	return files
}

func TestDecodeScaledOneMatchesStdlib(t *testing.T) {
	for _, name := range testFiles(t) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			want, wantErr := stdjpeg.Decode(bytes.NewReader(data))
			got, gotErr := DecodeScaled(bytes.NewReader(data), 1)
			if (gotErr != nil) != (wantErr != nil) {
				t.Fatalf("error = %v, image/jpeg error = %v", gotErr, wantErr)
			}
			if wantErr != nil {
				return
			}
			if got.Bounds() != want.Bounds() {
				t.Fatalf("bounds = %v, want %v", got.Bounds(), want.Bounds())
			}
			b := want.Bounds()
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					if g, w := got.At(x, y), want.At(x, y); g != w {
						t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, g, w)
					}
				}
			}
		})
	}
}

// For YCbCr and grey images each scaled sample is the rounded mean of the
// full-size samples it covers, including the encoder's padding beyond the
// visible edge (which image/jpeg keeps in the planes' backing arrays).
func TestDecodeScaledIsBoxMean(t *testing.T) {
	for _, name := range testFiles(t) {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		full, err := stdjpeg.Decode(bytes.NewReader(data))
		if err != nil {
			continue // the truncated file; covered above
		}
		for _, denom := range []int{2, 4, 8} {
			t.Run(filepath.Base(name)+"/"+string(rune('0'+denom)), func(t *testing.T) {
				got, err := DecodeScaled(bytes.NewReader(data), denom)
				if err != nil {
					t.Fatal(err)
				}
				fb := full.Bounds()
				if w, h := (fb.Dx()+denom-1)/denom, (fb.Dy()+denom-1)/denom; got.Bounds() != image.Rect(0, 0, w, h) {
					t.Fatalf("bounds = %v, want %dx%d", got.Bounds(), w, h)
				}
				switch f := full.(type) {
				case *image.YCbCr:
					g := got.(*image.YCbCr)
					if g.SubsampleRatio != f.SubsampleRatio {
						t.Fatalf("ratio = %v, want %v", g.SubsampleRatio, f.SubsampleRatio)
					}
					checkPlane(t, "Y", g.Y, g.YStride, f.Y, f.YStride, denom)
					checkPlane(t, "Cb", g.Cb, g.CStride, f.Cb, f.CStride, denom)
					checkPlane(t, "Cr", g.Cr, g.CStride, f.Cr, f.CStride, denom)
				case *image.Gray:
					g := got.(*image.Gray)
					checkPlane(t, "gray", g.Pix, g.Stride, f.Pix, f.Stride, denom)
				}
			})
		}
	}
}

func checkPlane(t *testing.T, plane string, got []byte, gotStride int, full []byte, fullStride, denom int) {
	t.Helper()
	rows := len(got) / gotStride
	for y := 0; y < rows; y++ {
		for x := 0; x < gotStride; x++ {
			sum := denom * denom / 2
			for yy := y * denom; yy < (y+1)*denom; yy++ {
				for xx := x * denom; xx < (x+1)*denom; xx++ {
					sum += int(full[yy*fullStride+xx])
				}
			}
			if g, w := got[y*gotStride+x], byte(sum/(denom*denom)); g != w {
				t.Fatalf("%s (%d,%d) = %d, want %d", plane, x, y, g, w)
			}
		}
	}
}

func TestDecodeScaledBadDenominator(t *testing.T) {
	data, err := os.ReadFile("testdata/video-001.jpeg")
	if err != nil {
		t.Fatal(err)
	}
	for _, denom := range []int{0, 3, 16, -2} {
		if _, err := DecodeScaled(bytes.NewReader(data), denom); err == nil {
			t.Errorf("DecodeScaled(denom=%d) succeeded, want an error", denom)
		}
	}
}

// Every prefix of a sequential and a progressive file fails cleanly: no
// panic, no hang, no leaked reconstruction goroutine deadlock.
func TestDecodeScaledTruncated(t *testing.T) {
	for _, name := range []string{"testdata/video-001.jpeg", "testdata/video-001.progressive.jpeg", "testdata/video-001.restart2.jpeg"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(data)-2; n += 97 {
			if _, err := DecodeScaled(bytes.NewReader(data[:n]), 2); err == nil {
				t.Fatalf("%s cut at %d bytes decoded without error", name, n)
			}
		}
	}
}
