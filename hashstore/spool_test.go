package hashstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// newStore returns a Store over a fresh temp folder (which New must
// create) with all types allowed and a 1 MB limit, after edit.
func newStore(t testing.TB, edit func(*Options)) (*Store, string) {
	t.Helper()
	opts := Options{
		TempDir:  filepath.Join(t.TempDir(), "data", "tmp"),
		MaxSize:  1_000_000,
		MediaDir: "media",
		Depth:    2,
		Width:    2,
	}
	if edit != nil {
		edit(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, opts.TempDir
}

// assertEmptyDir fails unless dir holds nothing: every failed Spool must
// remove its temp file.
func assertEmptyDir(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind in temp dir: %s", e.Name())
	}
}

// padded returns a real PNG followed by zero bytes up to n bytes in all;
// decoders ignore what follows IEND, and sniffing sees only the start.
func padded(t testing.TB, n int) []byte {
	t.Helper()
	p := pngBytes(t)
	if n < len(p) {
		t.Fatalf("padded: %d < PNG size %d", n, len(p))
	}
	return append(p, make([]byte, n-len(p))...)
}

func TestSpoolFile(t *testing.T) {
	s, dir := newStore(t, nil)
	data := jpegBytes(t)
	f, err := s.Spool(context.Background(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if got, want := f.SHA256, hex.EncodeToString(sum[:]); got != want {
		t.Errorf("SHA256 = %s, want %s", got, want)
	}
	if got, want := f.Size, int64(len(data)); got != want {
		t.Errorf("Size = %d, want %d", got, want)
	}
	if !filepath.IsAbs(f.Path) {
		t.Errorf("Path %q is not absolute", f.Path)
	}
	if got, want := filepath.Dir(f.Path), dir; got != want {
		t.Errorf("Path in %q, want in %q", got, want)
	}
	fi, err := os.Stat(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), os.FileMode(0o600); got != want {
		t.Errorf("mode = %v, want %v", got, want)
	}
	if got, err := os.ReadFile(f.Path); err != nil || !bytes.Equal(got, data) {
		t.Errorf("spooled content differs from the upload (err %v)", err)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := di.Mode().Perm(), os.FileMode(0o700); got != want {
		t.Errorf("temp dir mode = %v, want %v", got, want)
	}

	if err := f.Remove(); err != nil {
		t.Errorf("Remove: %v", err)
	}
	if err := f.Remove(); err != nil {
		t.Errorf("second Remove: %v", err)
	}
	assertEmptyDir(t, dir)
}

// countingReader counts the bytes handed out, to prove Spool stops early.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestSpoolSizeLimit(t *testing.T) {
	const limit = 100_000
	tests := []struct {
		name    string
		size    int
		oneByte bool
		wantErr bool
	}{
		{"well below", 2_000, false, false},
		{"exactly the limit", limit, false, false},
		{"exactly the limit, byte by byte", limit, true, false},
		{"one byte over", limit + 1, false, true},
		{"one byte over, byte by byte", limit + 1, true, true},
		{"far over", 10 * limit, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, dir := newStore(t, func(o *Options) { o.MaxSize = limit })
			cr := &countingReader{r: bytes.NewReader(padded(t, tt.size))}
			var r io.Reader = cr
			if tt.oneByte {
				r = iotest.OneByteReader(cr)
			}
			f, err := s.Spool(context.Background(), r)
			if !tt.wantErr {
				if err != nil {
					t.Fatalf("Spool: %v", err)
				}
				if got, want := f.Size, int64(tt.size); got != want {
					t.Errorf("Size = %d, want %d", got, want)
				}
				f.Remove()
				assertEmptyDir(t, dir)
				return
			}
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			var se *SizeError
			if !errors.As(err, &se) || se.Limit != limit {
				t.Errorf("err = %v, want a *SizeError with Limit %d", err, limit)
			}
			if !strings.Contains(err.Error(), "100000 bytes") {
				t.Errorf("message %q does not say the limit", err)
			}
			if got, want := cr.n, int64(limit+1); got != want {
				t.Errorf("read %d bytes of the stream, want to stop at %d", got, want)
			}
			assertEmptyDir(t, dir)
		})
	}
}

// funcReader is a hand-written fake reader for failure paths.
type funcReader func(p []byte) (int, error)

func (f funcReader) Read(p []byte) (int, error) { return f(p) }

func TestSpoolFailures(t *testing.T) {
	errBoom := errors.New("connection reset")
	png := pngBytes(t)
	tests := []struct {
		name string
		// reader gets the cancel func of Spool's context.
		reader  func(cancel context.CancelFunc) io.Reader
		wantErr error
	}{
		{"empty", func(context.CancelFunc) io.Reader { return bytes.NewReader(nil) }, ErrEmpty},
		{"canceled before", func(cancel context.CancelFunc) io.Reader {
			cancel()
			return bytes.NewReader(png)
		}, context.Canceled},
		{"canceled mid-stream", func(cancel context.CancelFunc) io.Reader {
			calls := 0
			return funcReader(func(p []byte) (int, error) {
				if calls++; calls == 3 {
					cancel()
				}
				return copy(p, png[:min(len(png), 10)]), nil
			})
		}, context.Canceled},
		{"read error after data", func(context.CancelFunc) io.Reader {
			return io.MultiReader(bytes.NewReader(png), iotest.ErrReader(errBoom))
		}, errBoom},
		{"read error with data", func(context.CancelFunc) io.Reader {
			return iotest.DataErrReader(io.MultiReader(bytes.NewReader(png), iotest.ErrReader(errBoom)))
		}, errBoom},
		{"no progress", func(context.CancelFunc) io.Reader {
			return funcReader(func([]byte) (int, error) { return 0, nil })
		}, io.ErrNoProgress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, dir := newStore(t, nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f, err := s.Spool(ctx, tt.reader(cancel))
			if err == nil {
				f.Remove()
				t.Fatal("Spool succeeded")
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			assertEmptyDir(t, dir)
		})
	}
}

// A reader that ends with data and io.EOF in one call must not lose the
// last bytes.
func TestSpoolDataWithEOF(t *testing.T) {
	s, _ := newStore(t, nil)
	data := jpegBytes(t)
	f, err := s.Spool(context.Background(), iotest.DataErrReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Remove()
	if got, want := f.Size, int64(len(data)); got != want {
		t.Errorf("Size = %d, want %d", got, want)
	}
}

func TestRehash(t *testing.T) {
	s, _ := newStore(t, nil)
	f, err := s.Spool(context.Background(), bytes.NewReader(jpegBytes(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Remove()
	before := f.SHA256
	stripped := jpegBytes(t)[:200] // stands in for a rewrite in place
	if err := os.WriteFile(f.Path, stripped, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.Rehash(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(stripped)
	if got, want := f.SHA256, hex.EncodeToString(sum[:]); got != want {
		t.Errorf("SHA256 = %s, want %s", got, want)
	}
	if f.SHA256 == before {
		t.Error("SHA256 did not change")
	}
	if got, want := f.Size, int64(len(stripped)); got != want {
		t.Errorf("Size = %d, want %d", got, want)
	}

	f.Remove()
	if err := f.Rehash(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Rehash of a removed file: err = %v, want ErrNotExist", err)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Options)
		wantErr string // "" = must succeed
	}{
		{"defaults", func(*Options) {}, ""},
		{"depth 0", func(o *Options) { o.Depth, o.Width = 0, 0 }, ""},
		{"media dir with trailing slash", func(o *Options) { o.MediaDir = "static/media/" }, ""},
		{"media at the root", func(o *Options) { o.MediaDir = "" }, ""},
		{"all types listed", func(o *Options) { o.Types = SupportedTypes() }, ""},
		{"no temp dir", func(o *Options) { o.TempDir = "" }, "temp dir"},
		{"zero max size", func(o *Options) { o.MaxSize = 0 }, "max size"},
		{"negative max size", func(o *Options) { o.MaxSize = -1 }, "max size"},
		{"max size that overflows", func(o *Options) { o.MaxSize = math.MaxInt64 }, "max size"},
		{"largest max size", func(o *Options) { o.MaxSize = math.MaxInt64 - 1 }, ""},
		{"negative depth", func(o *Options) { o.Depth = -1 }, "depth"},
		{"too deep", func(o *Options) { o.Depth = 9 }, "depth"},
		{"zero width", func(o *Options) { o.Width = 0 }, "width"},
		{"too wide", func(o *Options) { o.Width = 9 }, "width"},
		{"too many shard digits", func(o *Options) { o.Depth, o.Width = 8, 8 }, "hex digits"},
		{"absolute media dir", func(o *Options) { o.MediaDir = "/srv/media" }, "media dir"},
		{"media dir escapes", func(o *Options) { o.MediaDir = "../media" }, "media dir"},
		{"media dir with dot-dot inside", func(o *Options) { o.MediaDir = "a/../b" }, "media dir"},
		{"media dir with double slash", func(o *Options) { o.MediaDir = "static//media" }, "media dir"},
		{"media dir with backslash", func(o *Options) { o.MediaDir = `static\media` }, "media dir"},
		{"media dir in .git", func(o *Options) { o.MediaDir = ".git/media" }, "media dir"},
		{"svg type", func(o *Options) { o.Types = []string{"image/jpeg", "image/svg+xml"} }, `"image/svg+xml" is not supported`},
		{"html type", func(o *Options) { o.Types = []string{"text/html"} }, "not supported"},
		{"alias type", func(o *Options) { o.Types = []string{"image/jpg"} }, "not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{
				TempDir: filepath.Join(t.TempDir(), "a", "b"), MaxSize: 10,
				MediaDir: "media", Depth: 2, Width: 2,
			}
			tt.edit(&opts)
			s, err := New(opts)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if fi, err := os.Stat(opts.TempDir); err != nil || !fi.IsDir() {
					t.Errorf("temp dir not created: %v", err)
				}
				if s == nil {
					t.Error("nil Store")
				}
				return
			}
			if err == nil {
				t.Fatalf("New succeeded, want error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestCleanTemp(t *testing.T) {
	s, dir := newStore(t, nil)
	for range 3 {
		f, err := os.CreateTemp(dir, tempPrefix+"*")
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("half an upload")
		f.Close()
	}
	other := filepath.Join(dir, "keep.txt")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, tempPrefix+"dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := s.CleanTemp(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got, want := strings.Join(names, " "), "keep.txt spool-dir"; got != want {
		t.Errorf("left %q, want %q", got, want)
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&SizeError{Limit: 50_000_000}, "file too large: limit is 50000000 bytes"},
		{&TypeError{Type: "image/svg+xml"}, "file type image/svg+xml not allowed"},
		{&TypeError{Type: "image/gif", Reason: "contains markup (<html)"}, "file type image/gif not allowed: contains markup (<html)"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if errors.Is(&SizeError{}, ErrTypeNotAllowed) || errors.Is(&TypeError{}, ErrTooLarge) {
		t.Error("typed errors match the wrong sentinel")
	}
}

// The largest limit must not overflow the MaxSize+1 read bound.
func TestSpoolLargestLimit(t *testing.T) {
	s, _ := newStore(t, func(o *Options) { o.MaxSize = math.MaxInt64 - 1 })
	f, err := s.Spool(context.Background(), bytes.NewReader(pngBytes(t)))
	if err != nil {
		t.Fatal(err)
	}
	f.Remove()
}
