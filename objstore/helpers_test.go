package objstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"spano/internal/s3test"
)

// counter is a real transport that counts the requests it carries by
// kind, so a test can see whether bytes were sent again.
type counter struct {
	rt     http.RoundTripper
	mu     sync.Mutex
	counts map[string]int
	// onPart, if set, runs before each part or single-PUT request.
	onPart func()
	// fail, if set, may fail a request before it is sent, as a dropped
	// connection would.
	fail func(kind string) error
	// corrupt is how many of the next part or single-PUT requests get
	// one byte of their body flipped on the way, as a bad network would.
	corrupt int
}

// flipper flips the byte at offset at of a request body.
type flipper struct {
	io.ReadCloser
	off, at int64
}

func (f *flipper) Read(p []byte) (int, error) {
	n, err := f.ReadCloser.Read(p)
	if f.at >= f.off && f.at < f.off+int64(n) {
		p[f.at-f.off] ^= 0x55
	}
	f.off += int64(n)
	return n, err
}

func newCounter() *counter {
	return &counter{rt: http.DefaultTransport.(*http.Transport).Clone(), counts: map[string]int{}}
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	kind := r.Method
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPut && q.Has("partNumber"):
		kind = "part"
	case r.Method == http.MethodPut:
		kind = "put"
	case r.Method == http.MethodPost && q.Has("uploads"):
		kind = "create"
	case r.Method == http.MethodPost && q.Has("uploadId"):
		kind = "complete"
	case r.Method == http.MethodGet && q.Has("list-type"):
		kind = "list"
	}
	c.mu.Lock()
	c.counts[kind]++
	hook := c.onPart
	if c.corrupt > 0 && (kind == "part" || kind == "put") && r.Body != nil {
		c.corrupt--
		r = r.Clone(r.Context())
		r.Body = &flipper{ReadCloser: r.Body, at: 4096}
	}
	fail := c.fail
	c.mu.Unlock()
	if fail != nil {
		if err := fail(kind); err != nil {
			return nil, err
		}
	}
	if hook != nil && (kind == "part" || kind == "put") {
		hook()
	}
	return c.rt.RoundTrip(r)
}

func (c *counter) get(kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[kind]
}

// sends counts requests that carry object bytes.
func (c *counter) sends() int { return c.get("part") + c.get("put") }

// testOptions are Options for srv with quick retries.
func testOptions(srv *s3test.Server) Options {
	return Options{
		Endpoint: srv.Endpoint, Region: srv.Region, Bucket: srv.Bucket,
		Prefix: "media", Depth: 2, Width: 2,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
		PublicURL: "https://cdn.example.com/media",
		Logger:    quietLogger(),
		PartSize:  5 << 20, Parallel: 3,
		Attempts: 3, Backoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		RequestRetries: 1, IdleTimeout: 5 * time.Second,
	}
}

func newStore(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func quietLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// writeFile writes size pseudo-random bytes (from seed) to a new file,
// streaming, and returns it as an Object of type typ.
func writeFile(t testing.TB, size int64, seed uint64, typ, ext string) (string, Object) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "upload."+ext)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	src := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 7})
	if _, err := io.CopyN(io.MultiWriter(f, h), src, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, Object{SHA256: hex.EncodeToString(h.Sum(nil)), Ext: ext, Size: size, ContentType: typ}
}

// objectSHA downloads key with the plain client and hashes it.
func objectSHA(t testing.TB, srv *s3test.Server, key string) (string, int64) {
	t.Helper()
	r, err := srv.Client.GetObject(context.Background(), srv.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

// checkStored checks with the plain client everything Put promises about
// the object of obj.
func checkStored(t testing.TB, srv *s3test.Server, s *Store, obj Object) {
	t.Helper()
	key := s.Key(obj.SHA256, obj.Ext)
	info, err := srv.Client.StatObject(context.Background(), srv.Bucket, key, minio.StatObjectOptions{Checksum: true})
	if err != nil {
		t.Fatalf("stat %s: %v", key, err)
	}
	if got, want := info.Size, obj.Size; got != want {
		t.Errorf("size = %d, want %d", got, want)
	}
	if got, want := info.ContentType, obj.ContentType; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
	if got, want := info.Metadata.Get("Cache-Control"), CacheControl; got != want {
		t.Errorf("Cache-Control = %q, want %q", got, want)
	}
	if got, want := info.Metadata.Get("X-Amz-Meta-Sha256"), obj.SHA256; got != want {
		t.Errorf("x-amz-meta-sha256 = %q, want %q", got, want)
	}
	if info.ChecksumSHA256 == "" {
		t.Errorf("no SHA-256 checksum stored (mode %q)", info.ChecksumMode)
	}
	if obj.Size <= s.partSize {
		raw, _ := hex.DecodeString(obj.SHA256)
		if got, want := info.ChecksumSHA256, b64(raw); got != want {
			t.Errorf("x-amz-checksum-sha256 = %q, want the file's %q", got, want)
		}
	} else {
		parts := (obj.Size + s.partSize - 1) / s.partSize
		if !strings.HasSuffix(info.ChecksumSHA256, "-"+itoa(parts)) && info.ChecksumMode != "COMPOSITE" {
			t.Errorf("checksum %q mode %q: want a composite of %d part checksums", info.ChecksumSHA256, info.ChecksumMode, parts)
		}
	}
	if got, n := objectSHA(t, srv, key); got != obj.SHA256 || n != obj.Size {
		t.Errorf("object bytes: sha256 %s size %d, want %s size %d", got, n, obj.SHA256, obj.Size)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
