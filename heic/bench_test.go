package heic

import (
	"bytes"
	"context"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"spano/internal/testphoto"
)

// The benchmarks' 12 MP HEIC: testphoto's photo at 4000×3000, through a
// quality-90 JPEG, encoded by heif-enc at quality 80 (as phones do), made
// once per run.
var (
	bench12MPOnce sync.Once
	bench12MP     []byte
	bench12MPErr  error
)

func heic12MP(b *testing.B) []byte {
	b.Helper()
	enc := needTool(b, "heif-enc")
	bench12MPOnce.Do(func() {
		dir, err := os.MkdirTemp("", "spano-heic-bench-")
		if err != nil {
			bench12MPErr = err
			return
		}
		defer os.RemoveAll(dir)
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, testphoto.Paint(4000, 3000), &jpeg.Options{Quality: 90}); err != nil {
			bench12MPErr = err
			return
		}
		in, out := filepath.Join(dir, "in.jpg"), filepath.Join(dir, "out.heic")
		if err := os.WriteFile(in, buf.Bytes(), 0o600); err != nil {
			bench12MPErr = err
			return
		}
		if msg, err := exec.Command(enc, "-q", "80", "-o", out, in).CombinedOutput(); err != nil {
			bench12MPErr = &exec.Error{Name: string(msg), Err: err}
			return
		}
		bench12MP, bench12MPErr = os.ReadFile(out)
	})
	if bench12MPErr != nil {
		b.Fatal(bench12MPErr)
	}
	return bench12MP
}

// BenchmarkConvert12MP is Convert on a 12 MP HEIC: decode (WASM, or the
// system libheif when libheif.so is found), JPEG encode at quality 90,
// GPS strip, hash. The decoder is compiled before the timer starts.
func BenchmarkConvert12MP(b *testing.B) {
	src := writeFile(b, heic12MP(b))
	b.Logf("system libheif: %v (nil: in use)", SystemLibrary())
	start := time.Now()
	Prepare()
	b.Logf("decoder set up in %v", time.Since(start))
	dir := b.TempDir()
	b.ResetTimer()
	for b.Loop() {
		res, err := New(Options{}).Convert(context.Background(), src, dir)
		if err != nil {
			b.Fatal(err)
		}
		os.Remove(res.Path)
	}
}

// BenchmarkHeifConvert12MP is Debian's libheif tool (heif-convert in
// Debian 12, heif-dec in later releases) on the same file, to JPEG at
// quality 90: the native baseline, process start included.
func BenchmarkHeifConvert12MP(b *testing.B) {
	src := writeFile(b, heic12MP(b))
	tool := "heif-dec"
	if _, err := exec.LookPath(tool); err != nil {
		tool = "heif-convert"
	}
	tool = needTool(b, tool)
	out := filepath.Join(b.TempDir(), "out.jpg")
	b.ResetTimer()
	for b.Loop() {
		if msg, err := exec.Command(tool, "-q", "90", src, out).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", tool, err, msg)
		}
	}
}
