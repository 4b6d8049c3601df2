package gpsstrip

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestStripFFmpegFiles strips files that ffmpeg wrote with a location and
// reads them back with ffprobe: the location tag must be gone (or empty),
// other tags kept and the media still decodable. Skipped without ffmpeg.
func TestStripFFmpegFiles(t *testing.T) {
	ffmpeg, err1 := exec.LookPath("ffmpeg")
	ffprobe, err2 := exec.LookPath("ffprobe")
	if err1 != nil || err2 != nil {
		t.Skip("ffmpeg/ffprobe not installed")
	}
	video := []string{"-f", "lavfi", "-i", "testsrc=size=64x48:rate=1:duration=1"}
	audio := []string{"-f", "lavfi", "-i", "sine=duration=0.2"}
	tests := []struct {
		name, file, mime string
		args             []string
	}{
		{name: "mp4", file: "a.mp4", mime: "video/mp4", args: append(video, "-c:v", "mpeg4")},
		{name: "mov", file: "a.mov", mime: "video/quicktime", args: append(video, "-c:v", "mpeg4")},
		{name: "mov with mdta keys", file: "k.mov", mime: "video/quicktime", args: append(video, "-c:v", "mpeg4",
			"-movflags", "use_metadata_tags", "-metadata", "com.apple.quicktime.location.ISO6709="+iso6709)},
		{name: "m4a", file: "a.m4a", mime: "audio/mp4", args: audio},
		{name: "webm", file: "a.webm", mime: "video/webm", args: append(video, "-c:v", "libvpx")},
		{name: "ogg", file: "a.ogg", mime: "audio/ogg", args: audio},
		{name: "mp3", file: "a.mp3", mime: "audio/mpeg", args: audio},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), tt.file)
			args := append([]string{"-v", "error"}, tt.args...)
			args = append(args, "-metadata", "location="+iso6709, "-metadata", "title=hello", p)
			if out, err := exec.Command(ffmpeg, args...).CombinedOutput(); err != nil {
				t.Skipf("ffmpeg cannot write %s here: %v\n%s", tt.file, err, out)
			}
			probe := func() []byte {
				out, err := exec.Command(ffprobe, "-v", "error", "-show_entries", "format_tags:stream_tags", "-of", "compact", p).CombinedOutput()
				if err != nil {
					t.Fatalf("ffprobe: %v\n%s", err, out)
				}
				return out
			}
			if !bytes.Contains(probe(), []byte("51.5074")) {
				t.Fatalf("ffprobe does not see the planted location: %s", probe())
			}
			in, _ := os.ReadFile(p)
			changed, err := Strip(context.Background(), p, tt.mime)
			if err != nil || !changed {
				t.Fatalf("Strip = %v, %v; want true, nil", changed, err)
			}
			tags := probe()
			if bytes.Contains(tags, []byte("51.5074")) || !bytes.Contains(tags, []byte("title=hello")) {
				t.Errorf("tags after Strip: %s", tags)
			}
			out, _ := os.ReadFile(p)
			if len(out) != len(in) || bytes.Contains(out, []byte("51.5074")) {
				t.Errorf("size %d (want %d), location bytes left %v", len(out), len(in), bytes.Contains(out, []byte("51.5074")))
			}
			if msg, err := exec.Command(ffmpeg, "-v", "error", "-i", p, "-f", "null", "-").CombinedOutput(); err != nil || len(msg) > 0 {
				t.Errorf("ffmpeg cannot decode the stripped file: %v %s", err, msg)
			}
		})
	}
}
