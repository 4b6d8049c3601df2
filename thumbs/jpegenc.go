package thumbs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"sync"
)

// The standard library's JPEG encoder runs on one core: the 1280 px
// thumbnail's encode (~30 ms) was the longest step after the decode. A
// baseline JPEG can be cut into restart intervals, each of whose entropy-
// coded data starts byte-aligned with the DC predictions reset: exactly
// what a separate encode of that band of MCU rows writes. encodeJPEG
// encodes the bands side by side with image/jpeg and joins them into one
// file with a DRI segment and RSTn markers between them. Every MCU is
// computed from the same pixels as in one whole encode (bands end on MCU
// rows, so no band's edge is padded but the image's), so the decoded
// pixels are the same (TestEncodeJPEGBands); the file is a few bytes per
// band longer.

// minBandMCURows is the smallest band worth its own goroutine; maxBands
// bounds the join. The band count depends on the image only, not on the
// number of CPUs, so that a thumbnail's bytes do not depend on the
// machine that made it.
const (
	minBandMCURows = 12
	maxBands       = 4
)

// encodeJPEG writes img to w as a baseline JPEG at quality, as
// jpeg.Encode does (4:2:0, or grey for *image.Gray), in bands encoded
// concurrently.
func encodeJPEG(w io.Writer, img image.Image, quality int) error {
	o := &jpeg.Options{Quality: quality}
	b := img.Bounds()
	mcu := 16
	if _, ok := img.(*image.Gray); ok {
		mcu = 8
	}
	sub, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	})
	mcuRows := (b.Dy() + mcu - 1) / mcu
	n := min(maxBands, mcuRows/minBandMCURows)
	rowsPerBand := (mcuRows + max(n, 1) - 1) / max(n, 1)
	interval := rowsPerBand * ((b.Dx() + mcu - 1) / mcu)
	if !ok || n < 2 || interval > 0xffff || b.Dx() >= 1<<16 || b.Dy() >= 1<<16 {
		return jpeg.Encode(w, img, o)
	}
	n = (mcuRows + rowsPerBand - 1) / rowsPerBand
	bands := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		r := image.Rect(b.Min.X, b.Min.Y+i*rowsPerBand*mcu, b.Max.X, min(b.Max.Y, b.Min.Y+(i+1)*rowsPerBand*mcu))
		wg.Go(func() {
			var buf bytes.Buffer
			errs[i] = jpeg.Encode(&buf, sub.SubImage(r), o)
			bands[i] = buf.Bytes()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	joined, err := joinBands(bands, b.Dy(), interval)
	if err != nil {
		return err
	}
	_, err = w.Write(joined)
	return err
}

// joinBands joins the JPEG files of bands of one image, top to bottom,
// into one of height h: the first band's headers with its frame height
// set to h and a DRI segment of interval MCUs before its scan header,
// then every band's entropy-coded data, RST0…RST7 in turn between them,
// then EOI. Every band must have been encoded with the same tables, and
// every band but the last must hold exactly interval MCUs.
func joinBands(bands [][]byte, h, interval int) ([]byte, error) {
	head, sofAt, sosAt, err := bandHeaders(bands[0])
	if err != nil {
		return nil, err
	}
	size := len(head) + 6 + 2*len(bands)
	for _, band := range bands {
		size += len(band)
	}
	out := make([]byte, 0, size)
	out = append(out, head[:sosAt]...)
	binary.BigEndian.PutUint16(out[sofAt+5:], uint16(h)) // after marker, length, precision
	out = append(out, 0xff, 0xdd, 0, 4, byte(interval>>8), byte(interval))
	out = append(out, head[sosAt:]...)
	for i, band := range bands {
		bh, bsof, _, err := bandHeaders(band)
		if err != nil {
			return nil, err
		}
		// The same tables and scan header; only the frame height differs.
		if len(bh) != len(head) || !bytes.Equal(bh[:bsof+5], head[:sofAt+5]) || !bytes.Equal(bh[bsof+7:], head[sofAt+7:]) {
			return nil, errors.New("jpeg bands: headers differ")
		}
		if i > 0 {
			out = append(out, 0xff, 0xd0+byte((i-1)%8))
		}
		out = append(out, band[len(bh):len(band)-2]...)
	}
	return append(out, 0xff, 0xd9), nil
}

// bandHeaders splits a JPEG file written by image/jpeg: head is
// everything up to the end of its scan header, sofAt and sosAt the
// offsets of its SOF0 and SOS markers in it. The file must end with EOI.
func bandHeaders(jpg []byte) (head []byte, sofAt, sosAt int, err error) {
	bad := errors.New("jpeg bands: not a baseline file from image/jpeg")
	if len(jpg) < 4 || jpg[0] != 0xff || jpg[1] != 0xd8 || jpg[len(jpg)-2] != 0xff || jpg[len(jpg)-1] != 0xd9 {
		return nil, 0, 0, bad
	}
	sofAt = -1
	for i := 2; i+4 <= len(jpg); {
		if jpg[i] != 0xff {
			return nil, 0, 0, bad
		}
		end := i + 2 + int(binary.BigEndian.Uint16(jpg[i+2:]))
		if end > len(jpg)-2 {
			return nil, 0, 0, bad
		}
		switch jpg[i+1] {
		case 0xc0:
			sofAt = i
		case 0xda:
			if sofAt < 0 {
				return nil, 0, 0, bad
			}
			return jpg[:end], sofAt, i, nil
		}
		i = end
	}
	return nil, 0, 0, bad
}
