package video

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func box(typ string, body ...[]byte) []byte {
	var b []byte
	for _, x := range body {
		b = append(b, x...)
	}
	return append(append(binary.BigEndian.AppendUint32(nil, uint32(8+len(b))), typ...), b...)
}

func u32s(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

// handMP4 builds an MP4 with one video track of w×h whose matrix is
// (a, b, c, d) in 16.16, 3 s long at timescale 600, moov before mdat.
func handMP4(w, h uint32, a, b, c, d int32) []byte {
	mvhd := box("mvhd", u32s(0, 0, 0, 600, 1800), make([]byte, 80))
	tkhd := box("tkhd", u32s(0, 0, 0, 1, 0, 1800, 0, 0, 0, 0),
		u32s(uint32(a), uint32(b), 0, uint32(c), uint32(d), 0, 0, 0, 1<<30),
		u32s(w<<16, h<<16))
	mdhd := box("mdhd", u32s(0, 0, 0, 90000, 270000, 0))
	hdlr := box("hdlr", u32s(0, 0), []byte("vide"), make([]byte, 13))
	moov := box("moov", mvhd, box("trak", tkhd, box("mdia", mdhd, hdlr)))
	return append(append(box("ftyp", []byte("isom\x00\x00\x02\x00isommp41")), moov...), box("mdat", make([]byte, 16))...)
}

func TestProbeHandBuiltMP4(t *testing.T) {
	const one = 1 << 16
	tests := []struct {
		name         string
		a, b, c, d   int32
		wantW, wantH int
	}{
		{"identity", one, 0, 0, one, 1920, 1080},
		{"rotate 90", 0, one, -one, 0, 1080, 1920},
		{"rotate 270", 0, -one, one, 0, 1080, 1920},
		{"rotate 180", -one, 0, 0, -one, 1920, 1080},
		{"no matrix", 0, 0, 0, 0, 1920, 1080},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := handMP4(1920, 1080, tt.a, tt.b, tt.c, tt.d)
			f, err := probeMP4(context.Background(), bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatalf("probe: %v", err)
			}
			if want := (Facts{tt.wantW, tt.wantH, 3}); f != want {
				t.Errorf("facts %+v, want %+v", f, want)
			}
		})
	}
}

// FuzzProbeMP4 feeds the box walk arbitrary files: it must not panic,
// and what it accepts has a sane size and duration.
func FuzzProbeMP4(f *testing.F) {
	f.Add(handMP4(1920, 1080, 0, 1<<16, -1<<16, 0))
	f.Add(handMP4(640, 480, 1<<16, 0, 0, 1<<16))
	if b, ok := ffmpegSeed(f, "mp4", "-c:v", "libx264", "-preset", "ultrafast", "-movflags", "+faststart"); ok {
		f.Add(b[:min(len(b), 8192)])
	}
	if b, ok := ffmpegSeed(f, "mp4", "-c:v", "libx264", "-preset", "ultrafast", "-g", "2", "-movflags", "frag_keyframe+empty_moov"); ok {
		f.Add(b[:min(len(b), 16384)])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		facts, err := probeMP4(context.Background(), bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		checkFacts(t, facts)
	})
}

// FuzzProbeWebM feeds ebml-go and our use of it arbitrary files.
func FuzzProbeWebM(f *testing.F) {
	if b, ok := ffmpegSeed(f, "webm", "-c:v", "libvpx", "-b:v", "100k"); ok {
		f.Add(b[:min(len(b), 4096)])
	}
	f.Add([]byte("\x1a\x45\xdf\xa3\x84\x42\x82\x81\x77\x18\x53\x80\x67\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		facts, err := probeWebM(context.Background(), bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		checkFacts(t, facts)
	})
}

func checkFacts(t *testing.T, f Facts) {
	if f.Width <= 0 || f.Height <= 0 || f.Width > 1<<16 || f.Height > 1<<16 {
		t.Fatalf("accepted a size of %dx%d", f.Width, f.Height)
	}
	if f.Duration < 0 || math.IsNaN(f.Duration) || math.IsInf(f.Duration, 0) {
		t.Fatalf("accepted a duration of %v", f.Duration)
	}
}

// ffmpegSeed is a small real file of the given format when ffmpeg is
// installed.
func ffmpegSeed(f *testing.F, ext string, args ...string) ([]byte, bool) {
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		return nil, false
	}
	p := filepath.Join(f.TempDir(), "seed."+ext)
	cmd := append([]string{"-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=5:duration=1"}, args...)
	if err := exec.Command(ff, append(cmd, "-y", p)...).Run(); err != nil {
		return nil, false
	}
	b, err := os.ReadFile(p)
	return b, err == nil && len(b) > 0
}

// A Duration that overflows once scaled is unknown, not infinite.
func TestProbeWebMHugeDuration(t *testing.T) {
	// EBML header (DocType webm), Segment of unknown size, Info with
	// TimecodeScale 1e6 and Duration 1e308, Tracks with a 64×48 video.
	ebmlHead := []byte{0x1A, 0x45, 0xDF, 0xA3, 0x87, 0x42, 0x82, 0x84, 'w', 'e', 'b', 'm'}
	info := []byte{0x15, 0x49, 0xA9, 0x66, 0x92,
		0x2A, 0xD7, 0xB1, 0x83, 0x0F, 0x42, 0x40,
		0x44, 0x89, 0x88}
	info = binary.BigEndian.AppendUint64(info, math.Float64bits(1e308))
	tracks := []byte{0x16, 0x54, 0xAE, 0x6B, 0x8D,
		0xAE, 0x8B, 0x83, 0x81, 0x01, 0xE0, 0x86, 0xB0, 0x81, 64, 0xBA, 0x81, 48}
	seg := append([]byte{0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, append(info, tracks...)...)
	b := append(ebmlHead, seg...)
	f, err := probeWebM(context.Background(), bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	if want := (Facts{64, 48, 0}); f != want {
		t.Errorf("facts %+v, want %+v", f, want)
	}
}
