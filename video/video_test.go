package video

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// ffmpegPath returns ffmpeg's path, or skips the test.
func ffmpegPath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed (Debian: ffmpeg); .ci/run installs it")
	}
	return p
}

// makeVideo has ffmpeg encode two seconds of its test pattern with the
// given output arguments into a file named name, and returns its path.
func makeVideo(t testing.TB, name string, args ...string) string {
	t.Helper()
	ff := ffmpegPath(t)
	out := filepath.Join(t.TempDir(), name)
	cmd := append([]string{"-nostdin", "-hide_banner", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2",
		"-f", "lavfi", "-i", "sine=frequency=440:duration=2"}, args...)
	cmd = append(cmd, "-y", out)
	if msg, err := exec.Command(ff, cmd...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, msg)
	}
	return out
}

// rotated copies the video with a rotation in its track header: ffmpeg
// 5.1 writes the rotate tag as a display matrix only when copying.
func rotated(t testing.TB, src, deg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "rotated"+filepath.Ext(src))
	cmd := exec.Command(ffmpegPath(t), "-nostdin", "-loglevel", "error", "-i", src, "-c", "copy", "-metadata:s:v:0", "rotate="+deg, "-y", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg rotate: %v\n%s", err, msg)
	}
	return out
}

var h264 = []string{"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"}

func TestProbe(t *testing.T) {
	tests := []struct {
		name, file, mimeType string
		args                 []string
		rotate               string // degrees, for rotated
		wantW, wantH         int
		wantDuration         float64
	}{
		{"mp4", "a.mp4", "video/mp4", h264, "", 320, 240, 2},
		{"mp4, moov first", "b.mp4", "video/mp4", append(h264, "-movflags", "+faststart"), "", 320, 240, 2},
		{"mp4 rotated 90 (portrait phone video)", "c.mp4", "video/mp4", h264, "90", 240, 320, 2},
		{"mp4 rotated 270", "d.mp4", "video/mp4", h264, "270", 240, 320, 2},
		{"mp4 rotated 180", "e.mp4", "video/mp4", h264, "180", 320, 240, 2},
		// ffmpeg writes no mehd: the duration is only in the fragments.
		{"mp4 fragmented", "f.mp4", "video/mp4", append(h264, "-movflags", "frag_keyframe+empty_moov"), "", 320, 240, 2},
		{"mp4 fragmented, default sample durations", "g.mp4", "video/mp4", append(h264, "-movflags", "frag_keyframe+empty_moov+default_base_moof", "-g", "10"), "", 320, 240, 2},
		{"mov", "a.mov", "video/quicktime", h264, "", 320, 240, 2},
		{"mov rotated 90", "b.mov", "video/quicktime", h264, "90", 240, 320, 2},
		{"webm vp8", "a.webm", "video/webm", []string{"-c:v", "libvpx", "-b:v", "300k", "-c:a", "libopus"}, "", 320, 240, 2},
		{"webm vp9", "b.webm", "video/webm", []string{"-c:v", "libvpx-vp9", "-b:v", "300k", "-deadline", "realtime", "-c:a", "libopus"}, "", 320, 240, 2},
		{"webm with a display aspect", "c.webm", "video/webm", []string{"-c:v", "libvpx", "-b:v", "300k", "-aspect", "16:9", "-an"}, "", 427, 240, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := makeVideo(t, tt.file, tt.args...)
			if tt.rotate != "" {
				path = rotated(t, path, tt.rotate)
			}
			f, err := Probe(context.Background(), path, tt.mimeType)
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			if f.Width != tt.wantW || f.Height != tt.wantH {
				t.Errorf("size %dx%d, want %dx%d", f.Width, f.Height, tt.wantW, tt.wantH)
			}
			// Two seconds of video; the audio track may run a frame longer.
			if math.Abs(f.Duration-tt.wantDuration) > 0.1 {
				t.Errorf("duration %.3f, want %g", f.Duration, tt.wantDuration)
			}
		})
	}
}

func TestProbeRefuses(t *testing.T) {
	mp4 := readFile(t, makeVideo(t, "a.mp4", h264...))
	fast := readFile(t, makeVideo(t, "b.mp4", append(h264, "-movflags", "+faststart")...))
	webm := readFile(t, makeVideo(t, "a.webm", "-c:v", "libvpx", "-b:v", "300k", "-an"))
	audio := readFile(t, makeVideo(t, "c.mp4", "-vn", "-c:a", "aac"))
	audioWebM := readFile(t, makeVideo(t, "c.webm", "-vn", "-c:a", "libopus"))
	moov := bytes.Index(fast, []byte("moov"))
	tests := []struct {
		name, mimeType string
		data           []byte
		wantErr        error
	}{
		{"empty mp4", "video/mp4", nil, ErrMalformed},
		{"mp4 cut in ftyp", "video/mp4", mp4[:12], ErrMalformed},
		{"mp4 cut in mdat (moov at the end)", "video/mp4", mp4[:len(mp4)/2], ErrMalformed},
		{"mp4 cut in moov", "video/mp4", fast[:moov+200], ErrMalformed},
		{"mp4 without video", "video/mp4", audio, ErrMalformed},
		{"a webm as mp4", "video/mp4", webm, ErrMalformed},
		{"text as mp4", "video/mp4", []byte("hello, this is not a video at all, really"), ErrMalformed},
		{"empty webm", "video/webm", nil, ErrMalformed},
		{"webm cut in the header", "video/webm", webm[:60], ErrMalformed},
		{"webm without video", "video/webm", audioWebM, ErrMalformed},
		{"an mp4 as webm", "video/webm", mp4, ErrMalformed},
		{"gif", "image/gif", []byte("GIF89a"), ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "v")
			if err := os.WriteFile(p, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := Probe(context.Background(), p, tt.mimeType)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Probe = %+v, %v; want %v", f, err, tt.wantErr)
			}
		})
	}
}

func TestProbeCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tt := range []struct{ file, mimeType string }{{"a.mp4", "video/mp4"}, {"a.webm", "video/webm"}} {
		path := makeVideo(t, tt.file, "-an")
		if _, err := Probe(ctx, path, tt.mimeType); !errors.Is(err, context.Canceled) {
			t.Errorf("Probe %s: %v, want context.Canceled", tt.mimeType, err)
		}
	}
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPoster(t *testing.T) {
	ff := ffmpegPath(t)
	tests := []struct {
		name, file   string
		args         []string
		rotate       string
		wantW, wantH int
	}{
		{"mp4", "a.mp4", h264, "", 320, 240},
		{"mp4 rotated 90: poster upright", "b.mp4", h264, "90", 240, 320},
		{"webm", "a.webm", []string{"-c:v", "libvpx", "-b:v", "300k", "-an"}, "", 320, 240},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := makeVideo(t, tt.file, tt.args...)
			if tt.rotate != "" {
				src = rotated(t, src, tt.rotate)
			}
			dir := t.TempDir()
			p, err := Poster(context.Background(), Options{FFmpeg: ff}, src, dir, 2)
			if err != nil {
				t.Fatalf("Poster: %v", err)
			}
			if filepath.Dir(p) != dir {
				t.Errorf("poster %s not in %s", p, dir)
			}
			img, err := jpeg.Decode(bytes.NewReader(readFile(t, p)))
			if err != nil {
				t.Fatalf("poster is not a JPEG: %v", err)
			}
			if b := img.Bounds(); b.Dx() != tt.wantW || b.Dy() != tt.wantH {
				t.Errorf("poster %dx%d, want %dx%d", b.Dx(), b.Dy(), tt.wantW, tt.wantH)
			}
		})
	}
}

// Without a working ffmpeg there is no poster, nothing is left behind,
// and the facts still come.
func TestPosterFails(t *testing.T) {
	src := makeVideo(t, "a.mp4", h264...)
	junk := filepath.Join(t.TempDir(), "junk.mp4")
	if err := os.WriteFile(junk, []byte("\x00\x00\x00\x08ftypisomxxxxxxxx"), 0o600); err != nil {
		t.Fatal(err)
	}
	sleeper := filepath.Join(t.TempDir(), "ffmpeg")
	if err := os.WriteFile(sleeper, []byte("#!/bin/sh\nexec sleep 30\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts Options
		src  string
	}{
		{"posters off", Options{}, src},
		{"ffmpeg missing", Options{FFmpeg: filepath.Join(t.TempDir(), "no-ffmpeg")}, src},
		{"ffmpeg hangs", Options{FFmpeg: sleeper, Timeout: 300 * time.Millisecond}, src},
		{"ffmpeg cannot read the file", Options{FFmpeg: ffmpegPath(t)}, junk},
		{"poster over the size bound", Options{FFmpeg: ffmpegPath(t), MaxPosterBytes: 500}, src},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			start := time.Now()
			p, err := Poster(context.Background(), tt.opts, tt.src, dir, 2)
			if !errors.Is(err, ErrNoPoster) {
				t.Fatalf("Poster = %q, %v; want ErrNoPoster", p, err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v", d)
			}
			if left, _ := os.ReadDir(dir); len(left) > 0 {
				t.Errorf("left %d files in dstDir", len(left))
			}
			if f, err := Probe(context.Background(), src, "video/mp4"); err != nil || f.Width != 320 {
				t.Errorf("Probe after a failed poster: %+v, %v", f, err)
			}
		})
	}
}
