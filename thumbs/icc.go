package thumbs

import (
	"bytes"
	"encoding/binary"
	"io"
)

// A phone photo is often in Display P3. Its colour profile travels in
// APP2 "ICC_PROFILE" segments; a thumbnail without it is shown as sRGB,
// duller than the original beside it. JPEG thumbnails carry the source's
// profile, but only after the markup check has passed on it: a profile
// is opaque bytes, and one that begins "<html><script>" would turn every
// thumbnail into a polyglot. (PNG, WebP and AVIF thumbnails carry no
// profile; the profiles of PNG, GIF and WebP sources are rarer.)

var iccMarker = []byte("ICC_PROFILE\x00")

// maxICC bounds the profile copied into thumbnails; real ones are a few
// KiB, a few hundred at most.
const maxICC = 1 << 20

// assembleICC reassembles an ICC profile from the payloads of a JPEG's
// APP2 ICC_PROFILE segments (each after the identifier: sequence number,
// count, data), or returns nil when there are none or they are
// inconsistent: missing, repeated or out-of-range chunks, or over maxICC.
func assembleICC(segs [][]byte) []byte {
	if len(segs) == 0 || len(segs[0]) < 2 {
		return nil
	}
	count := int(segs[0][1])
	if count == 0 || len(segs) != count {
		return nil
	}
	chunks := make([][]byte, count)
	total := 0
	for _, s := range segs {
		if len(s) < 2 || int(s[1]) != count || s[0] == 0 || int(s[0]) > count || chunks[s[0]-1] != nil {
			return nil
		}
		chunks[s[0]-1] = s[2:]
		total += len(s) - 2
	}
	if total > maxICC {
		return nil
	}
	profile := make([]byte, 0, total)
	for _, c := range chunks {
		profile = append(profile, c...)
	}
	return profile
}

// withICC writes the JPEG stream jpg to w with profile inserted as APP2
// segments right after its SOI marker.
func withICC(w io.Writer, jpg, profile []byte) error {
	if len(profile) == 0 || len(jpg) < 2 {
		_, err := w.Write(jpg)
		return err
	}
	const maxChunk = 65535 - 2 - 14 // segment length field, marker id, seq and count
	n := (len(profile) + maxChunk - 1) / maxChunk
	if n > 255 {
		_, err := w.Write(jpg)
		return err
	}
	var out bytes.Buffer
	out.Write(jpg[:2])
	for i := 0; i < n; i++ {
		chunk := profile[i*maxChunk : min((i+1)*maxChunk, len(profile))]
		out.Write([]byte{0xff, 0xe2})
		binary.Write(&out, binary.BigEndian, uint16(2+len(iccMarker)+2+len(chunk)))
		out.Write(iccMarker)
		out.Write([]byte{byte(i + 1), byte(n)})
		out.Write(chunk)
	}
	out.Write(jpg[2:])
	_, err := w.Write(out.Bytes())
	return err
}
