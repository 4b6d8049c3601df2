package thumbs

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"os"
)

// A phone photo is often in Display P3. Its colour profile travels in
// APP2 "ICC_PROFILE" segments; a thumbnail without it is shown as sRGB,
// duller than the original beside it. JPEG thumbnails carry the source's
// profile. (PNG thumbnails are made from PNG, GIF and WebP sources, whose
// profiles are rarer; they are left as they are.)

var iccMarker = []byte("ICC_PROFILE\x00")

// maxICC bounds the profile copied into thumbnails; real ones are a few
// KiB, a few hundred at most.
const maxICC = 1 << 20

// jpegICC returns the ICC profile of the JPEG at path, reassembled from its
// APP2 chunks in sequence order, or nil when it has none or its chunks are
// inconsistent.
func jpegICC(path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var chunks [][]byte
	total, count, ok := 0, 0, true
	jpegSegments(bufio.NewReader(f), 0xe2, func(seg []byte) bool {
		rest, found := bytes.CutPrefix(seg, iccMarker)
		if !found {
			return true
		}
		if len(rest) < 2 || rest[0] == 0 || rest[1] == 0 || (count != 0 && int(rest[1]) != count) || rest[0] > rest[1] {
			ok = false
			return false
		}
		if count == 0 {
			count = int(rest[1])
			chunks = make([][]byte, count)
		}
		if chunks[rest[0]-1] != nil {
			ok = false
			return false
		}
		chunks[rest[0]-1] = rest[2:]
		total += len(rest) - 2
		return total <= maxICC
	})
	if !ok || count == 0 || total > maxICC {
		return nil
	}
	profile := make([]byte, 0, total)
	for _, c := range chunks {
		if c == nil {
			return nil
		}
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
