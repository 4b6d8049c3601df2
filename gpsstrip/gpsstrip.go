// Package gpsstrip removes location data (GPS coordinates) from uploaded
// media files in place, before they are hashed and published.
//
// Every edit is same-length: bytes are overwritten, never inserted or
// removed, so the file size, the image data and every other piece of
// metadata (orientation, colour profile, camera data) stay as they were.
// Only metadata is read: JPEG up to the first scan, PNG chunk by chunk
// with image data skipped by seeking, MP4 box headers with mdat skipped by
// seeking. Each metadata block that is read is capped in size.
//
// What is neutralised, by container:
//
//   - JPEG: the EXIF GPS IFD (emptied: entry count and entries zeroed,
//     out-of-line values zeroed; the GPSInfo pointer now leads to an
//     empty IFD), GPS properties in the XMP packet and in extended XMP
//     (reassembled across segments), XMP in any other APPn segment; the
//     same for secondary images (gain or depth maps) listed in an MPF index.
//   - PNG: eXIf as for JPEG, XMP in iTXt (CRC recomputed); text chunks
//     whose compressed or hex-encoded payload holds GPS are turned into an
//     ignorable private chunk.
//   - WebP: EXIF and XMP chunks.
//   - GIF: the XMP application extension.
//   - MP4/MOV/M4A: ©xyz and loci boxes (udta or ilst), ilst items whose
//     key in meta/keys starts with com.apple.quicktime.location. (or is
//     ffmpeg's "location"), XMP in udta/XMP_ and the XMP uuid box.
//     Neutralised boxes become zero-filled free boxes of the same size.
//   - MP3, WebM, Ogg: these formats define no GPS field, but ffmpeg copies
//     a video's location (an ISO 6709 string) into a "location" TXXX
//     frame, LOCATION SimpleTag or LOCATION comment when converting; such
//     values are cleared (Ogg page CRCs renewed). XMP in ID3 PRIV and GEOB
//     frames is scrubbed.
//
// XMP properties are removed when their local name holds "gps",
// "latitude", "longitude" or "altitude" (any case), which covers
// exif:GPS*, exifEX:GPS*, the GPS fields of Iptc4xmpExt locations and
// drone-dji:GpsLatitude and friends; they are overwritten with spaces,
// which XML ignores between attributes and between property elements.
// Place names (city, country) are kept: they are not coordinates.
//
// Not covered: GPS in maker notes, and per-sample GPS in timed metadata
// tracks inside mdat (GoPro gpmd, camm, Apple mebx location tracks).
package gpsstrip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"strings"
)

// ErrMalformed reports a file whose metadata is too broken to clean
// safely. Callers should refuse the file: publishing it could publish a
// location that a more forgiving reader would still find.
var ErrMalformed = errors.New("gpsstrip: malformed metadata")

// maxBlock caps any single metadata block that is read into memory
// (a PNG text chunk, an MP4 XMP box, a reassembled extended XMP packet).
// Real metadata is far smaller; larger blocks are refused as malformed
// rather than published unexamined.
const maxBlock = 16 << 20

// Strip removes location data from the file at path, in place, for the
// given sniffed MIME type. It reports whether it changed anything.
// Unknown or unsupported types give (false, nil). On error the file is
// left untouched: all edits are planned before the first write.
func Strip(ctx context.Context, path, mimeType string) (changed bool, err error) {
	plan := planner(mimeType)
	if plan == nil {
		return false, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("strip gps: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("strip gps: %w", err)
	}
	patches, err := planFile(ctx, f, st.Size(), plan)
	if err != nil {
		return false, fmt.Errorf("strip gps %s: %w", mimeType, err)
	}
	if len(patches) == 0 {
		return false, nil
	}
	w, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return false, fmt.Errorf("strip gps: %w", err)
	}
	for _, p := range patches {
		if _, err := w.WriteAt(p.data, p.off); err != nil {
			w.Close()
			return true, fmt.Errorf("strip gps: write: %w", err)
		}
	}
	if err := w.Close(); err != nil {
		return true, fmt.Errorf("strip gps: %w", err)
	}
	return true, nil
}

// planFile runs plan over the size bytes of r and returns the patches.
func planFile(ctx context.Context, r io.ReaderAt, size int64, plan planFunc) ([]patch, error) {
	e := &editor{r: r, size: size}
	if err := plan(ctx, e); err != nil {
		return nil, err
	}
	return e.patches, nil
}

// planFunc reads a file's metadata through e and records the edits that
// remove its location data.
type planFunc func(ctx context.Context, e *editor) error

// planner picks the container handler for a sniffed MIME type.
func planner(mimeType string) planFunc {
	mt, _, err := mime.ParseMediaType(mimeType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(mimeType))
	}
	switch mt {
	case "image/jpeg", "image/pjpeg":
		return planJPEG
	case "image/png", "image/apng", "image/vnd.mozilla.apng":
		return planPNG
	case "image/webp":
		return planWebP
	case "image/gif":
		return planGIF
	case "video/mp4", "video/quicktime", "audio/mp4", "audio/x-m4a", "video/x-m4v",
		"video/3gpp", "video/3gpp2", "audio/3gpp", "audio/3gpp2":
		return planISOBMFF
	case "audio/mpeg", "audio/mp3":
		return planMP3
	case "video/webm", "audio/webm", "video/x-matroska", "audio/x-matroska":
		return planWebM
	case "audio/ogg", "video/ogg", "application/ogg", "audio/opus":
		return planOgg
	}
	return nil
}

// patch is one planned same-length overwrite.
type patch struct {
	off  int64
	data []byte
}

// editor reads a file's metadata and collects patches; nothing is
// written until planning has succeeded.
type editor struct {
	r       io.ReaderAt
	size    int64
	patches []patch
}

// read returns n bytes at off, or ErrMalformed when they lie outside the
// file or n exceeds maxBlock.
func (e *editor) read(off int64, n int64) ([]byte, error) {
	if off < 0 || n < 0 || n > maxBlock || off > e.size || n > e.size-off {
		return nil, fmt.Errorf("read %d bytes at %d of %d: %w", n, off, e.size, ErrMalformed)
	}
	b := make([]byte, n)
	// ReaderAt may report EOF along with every byte asked for when they end
	// the file (bytes.Reader does, even for zero bytes at the end).
	if m, err := e.r.ReadAt(b, off); err != nil && !(errors.Is(err, io.EOF) && m == len(b)) {
		return nil, fmt.Errorf("read at %d: %w", off, err)
	}
	return b, nil
}

// update records patches for the bytes of cur that differ from old; both
// describe the file region starting at off.
func (e *editor) update(off int64, old, cur []byte) {
	for i := 0; i < len(cur); {
		if old[i] == cur[i] {
			i++
			continue
		}
		j := i
		for j < len(cur) && old[j] != cur[j] {
			j++
		}
		e.patches = append(e.patches, patch{off: off + int64(i), data: append([]byte(nil), cur[i:j]...)})
		i = j
	}
}

// edit reads the region [off, off+n), lets fn change it in place and
// records the differences.
func (e *editor) edit(off, n int64, fn func(b []byte) error) error {
	b, err := e.read(off, n)
	if err != nil {
		return err
	}
	old := append([]byte(nil), b...)
	if err := fn(b); err != nil {
		return err
	}
	e.update(off, old, b)
	return nil
}

// malformed wraps ErrMalformed with what was wrong.
func malformed(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, ErrMalformed)...)
}
