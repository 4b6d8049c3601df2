package thumbs

import (
	"bytes"
	"context"
	"encoding/binary"
	"image/jpeg"
	"math/rand/v2"
	"testing"
)

// insertICC puts profile into jpg as APP2 chunks of at most size bytes,
// the way cameras and phones write it.
func insertICC(jpg, profile []byte, size int, order []int) []byte {
	var chunks [][]byte
	for i := 0; i < len(profile); i += size {
		chunks = append(chunks, profile[i:min(i+size, len(profile))])
	}
	if order == nil {
		for i := range chunks {
			order = append(order, i)
		}
	}
	out := append([]byte{}, jpg[:2]...)
	for _, i := range order {
		seg := append(append([]byte("ICC_PROFILE\x00"), byte(i+1), byte(len(chunks))), chunks[i]...)
		out = append(out, 0xff, 0xe2)
		out = binary.BigEndian.AppendUint16(out, uint16(len(seg)+2))
		out = append(out, seg...)
	}
	return append(out, jpg[2:]...)
}

func TestThumbnailsKeepICCProfile(t *testing.T) {
	profile := make([]byte, 70_000) // two chunks and more
	r := rand.New(rand.NewPCG(1, 2))
	for i := range profile {
		profile[i] = byte(r.UintN(256))
	}
	plain := jpegBytes(t, markedImage(800, 600), 1)
	for _, tt := range []struct {
		name string
		src  []byte
		want []byte
	}{
		{"profile in order", insertICC(plain, profile, 40_000, nil), profile},
		{"chunks out of order", insertICC(plain, profile, 30_000, []int{2, 0, 1}), profile},
		{"no profile", plain, nil},
		{"a chunk missing", insertICC(plain, profile, 30_000, []int{0, 2}), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := New(Options{Widths: []int{320}, MaxPixels: 50_000_000})
			if err != nil {
				t.Fatal(err)
			}
			img, err := m.Make(context.Background(), writeFile(t, "upload", tt.src), "image/jpeg")
			if err != nil {
				t.Fatal(err)
			}
			thumb := img.Thumbnails[0].Data
			if got := iccOf(t, thumb); !bytes.Equal(got, tt.want) {
				t.Errorf("thumbnail profile: %d bytes, want %d", len(got), len(tt.want))
			}
			if _, err := jpeg.Decode(bytes.NewReader(thumb)); err != nil {
				t.Errorf("thumbnail does not decode: %v", err)
			}
		})
	}
}

// iccOf reads the ICC profile of a JPEG with the package's own
// walk.
func iccOf(t *testing.T, jpg []byte) []byte {
	t.Helper()
	info, err := walkJPEG(bytes.NewReader(jpg))
	if err != nil {
		t.Fatal(err)
	}
	return assembleICC(info.icc)
}
