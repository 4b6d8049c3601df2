package gpsstrip

import (
	"bytes"
	"errors"
	"image/gif"
	"testing"
)

func TestStripGIF(t *testing.T) {
	in := gifWith(t, gifXMPExtension(xmpPacket(true)))
	out := assertStripped(t, in, "image/gif")
	// Decoding walks the XMP extension as sub-blocks: it must still end on
	// the terminator for the image after it to decode.
	assertSamePixels(t, in, out)
	checkXMP(t, xmpOf(t, out))
	if _, err := gif.DecodeAll(bytes.NewReader(out)); err != nil {
		t.Errorf("DecodeAll: %v", err)
	}
}

func TestStripGIFWithoutLocation(t *testing.T) {
	assertUntouched(t, gifWith(t), "image/gif")
	assertUntouched(t, gifWith(t, gifXMPExtension(xmpPacket(false))), "image/gif")
}

func TestStripGIFMalformed(t *testing.T) {
	good := gifWith(t, gifXMPExtension(xmpPacket(true)))
	for name, in := range map[string][]byte{
		"not gif":   append([]byte("GIF12a"), good[6:]...),
		"truncated": good[:len(good)-40],
		"bad block": append(append([]byte(nil), good[:len(good)-1]...), 0x99),
	} {
		t.Run(name, func(t *testing.T) {
			out, changed, err := stripBytes(t, in, "image/gif")
			if !errors.Is(err, ErrMalformed) || changed || !bytes.Equal(out, in) {
				t.Errorf("changed %v, err %v; want false, ErrMalformed, file untouched", changed, err)
			}
		})
	}
}
