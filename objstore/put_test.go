package objstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"spano/internal/s3test"
)

func TestPut(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	tests := []struct {
		name, typ, ext string
		size           int64
	}{
		{"single put", "image/jpeg", "jpg", 300 << 10},
		{"exactly one part", "image/png", "png", 5 << 20},
		{"multipart", "video/mp4", "mp4", 11<<20 + 17},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newCounter()
			opts := testOptions(srv)
			opts.Transport = c
			s := newStore(t, opts)
			path, obj := writeFile(t, tt.size, uint64(i), tt.typ, tt.ext)
			res, err := s.Put(ctx, obj, path)
			if err != nil {
				t.Fatalf("Put: %v\n%s", err, srv.Logs())
			}
			if !res.Uploaded || res.Replaced != nil {
				t.Errorf("Put = %+v, want uploaded, nothing replaced", res)
			}
			if want := "media/" + obj.SHA256[:2] + "/" + obj.SHA256[2:4] + "/" + obj.SHA256 + "." + tt.ext; res.Key != want {
				t.Errorf("key = %q, want %q", res.Key, want)
			}
			checkStored(t, srv, s, obj)
			wantParts := int((tt.size + opts.PartSize - 1) / opts.PartSize)
			if tt.size <= opts.PartSize {
				if got := c.get("put"); got != 1 {
					t.Errorf("%d single PUTs, want 1", got)
				}
			} else if got := c.get("part"); got != wantParts {
				t.Errorf("%d parts sent, want %d", got, wantParts)
			}

			// Again: a HEAD finds the right object and nothing is sent.
			before := c.sends()
			stored, err := srv.Client.StatObject(ctx, srv.Bucket, res.Key, minio.StatObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(1100 * time.Millisecond) // Last-Modified has whole seconds
			res, err = s.Put(ctx, obj, path)
			if err != nil {
				t.Fatalf("second Put: %v", err)
			}
			if res.Uploaded || res.Replaced != nil {
				t.Errorf("second Put = %+v, want nothing done", res)
			}
			if got := c.sends() - before; got != 0 {
				t.Errorf("second Put sent %d requests with bytes, want 0", got)
			}
			again, err := srv.Client.StatObject(ctx, srv.Bucket, res.Key, minio.StatObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !again.LastModified.Equal(stored.LastModified) || again.ETag != stored.ETag {
				t.Errorf("object rewritten: Last-Modified %v → %v, ETag %s → %s",
					stored.LastModified, again.LastModified, stored.ETag, again.ETag)
			}
		})
	}
}

func TestPutRefusesBadInput(t *testing.T) {
	srv := s3test.Start(t)
	s := newStore(t, testOptions(srv))
	path, good := writeFile(t, 1000, 1, "image/jpeg", "jpg")
	tests := []struct {
		name string
		obj  func(Object) Object
		path string
		want string
	}{
		{"size differs from the file", func(o Object) Object { o.Size++; return o }, path, "has 1000 bytes, want 1001"},
		{"uppercase hash", func(o Object) Object { o.SHA256 = strings.ToUpper(o.SHA256); return o }, path, "not 64 lowercase hex"},
		{"short hash", func(o Object) Object { o.SHA256 = o.SHA256[:63]; return o }, path, "not 64 lowercase hex"},
		{"unknown extension", func(o Object) Object { o.Ext = "exe"; return o }, path, "unknown extension"},
		{"empty type", func(o Object) Object { o.ContentType = ""; return o }, path, "content type is empty"},
		{"zero size", func(o Object) Object { o.Size = 0; return o }, path, "not positive"},
		{"missing file", func(o Object) Object { return o }, path + ".gone", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Put(context.Background(), tt.obj(good), tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Put = %v, want an error with %q", err, tt.want)
			}
			if errors.Is(err, ErrUnavailable) {
				t.Errorf("Put = %v: a bad input is not an outage", err)
			}
		})
	}
	// The object's bytes are SHA-256-checked by the server: a file whose
	// bytes are not the hash it is put under is refused, not stored.
	lying := good
	lying.SHA256 = strings.Repeat("ab", 32)
	if _, err := s.Put(context.Background(), lying, path); err == nil {
		t.Fatal("Put of bytes under another hash succeeded")
	} else if errors.Is(err, ErrUnavailable) {
		t.Errorf("Put = %v: a checksum refusal is not an outage", err)
	}
	if _, err := srv.Client.StatObject(context.Background(), srv.Bucket, s.Key(lying.SHA256, lying.Ext), minio.StatObjectOptions{}); err == nil {
		t.Error("the mislabelled object was stored")
	}
}

// TestPutConcurrent is two spanos on one bucket putting the same bytes at
// once: both succeed and one right object remains.
func TestPutConcurrent(t *testing.T) {
	srv := s3test.Start(t)
	path, obj := writeFile(t, 12<<20+3, 9, "video/webm", "webm")
	stores := []*Store{newStore(t, testOptions(srv)), newStore(t, testOptions(srv))}
	var wg sync.WaitGroup
	errs := make([]error, len(stores))
	start := make(chan struct{})
	for i, s := range stores {
		wg.Go(func() {
			<-start
			_, errs[i] = s.Put(context.Background(), obj, path)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("spano %d: Put: %v", i, err)
		}
	}
	var keys []string
	for e, err := range stores[0].List(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, e.Key)
	}
	if len(keys) != 1 || keys[0] != stores[0].Key(obj.SHA256, obj.Ext) {
		t.Errorf("objects = %q, want the one key", keys)
	}
	checkStored(t, srv, stores[0], obj)
}

// TestPutOutage kills the server in the middle of a multipart upload: Put
// retries, then reports ErrUnavailable within a bounded time; after a
// restart the same Put works.
func TestPutOutage(t *testing.T) {
	srv := s3test.Start(t)
	c := newCounter()
	opts := testOptions(srv)
	opts.Transport = c
	s := newStore(t, opts)
	path, obj := writeFile(t, 16<<20, 3, "video/mp4", "mp4")
	var once sync.Once
	c.onPart = func() { once.Do(srv.Stop) }

	start := time.Now()
	_, err := s.Put(context.Background(), obj, path)
	elapsed := time.Since(start)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Put during an outage = %v, want ErrUnavailable", err)
	}
	// 3 attempts of one request each, and 20ms+40ms of backoff.
	if elapsed > 10*time.Second {
		t.Errorf("Put took %v to give up, want a few hundred ms", elapsed)
	}
	if got := c.get("HEAD"); got < 1 {
		t.Errorf("%d HEADs", got)
	}

	c.mu.Lock()
	c.onPart = nil
	c.mu.Unlock()
	srv.Restart()
	res, err := s.Put(context.Background(), obj, path)
	if err != nil {
		t.Fatalf("Put after restart: %v", err)
	}
	if !res.Uploaded {
		t.Error("Put after restart did not upload")
	}
	checkStored(t, srv, s, obj)
}

// TestPutCanceled stops a Put by its context: the error is the context's,
// not an outage, so the server does not answer 503 for a client that left.
func TestPutCanceled(t *testing.T) {
	srv := s3test.Start(t)
	s := newStore(t, testOptions(srv))
	path, obj := writeFile(t, 1000, 4, "image/gif", "gif")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Put(ctx, obj, path)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v, want context.Canceled", err)
	}
	if errors.Is(err, ErrUnavailable) {
		t.Errorf("Put = %v: a canceled put is not an outage", err)
	}
}

// TestPutNeverStarted is a bucket that is down from the start.
func TestPutNeverStarted(t *testing.T) {
	srv := s3test.Start(t)
	srv.Stop()
	s := newStore(t, testOptions(srv))
	path, obj := writeFile(t, 1000, 5, "image/gif", "gif")
	if _, err := s.Put(context.Background(), obj, path); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Put = %v, want ErrUnavailable", err)
	}
	if err := s.CheckBucket(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("CheckBucket = %v, want ErrUnavailable", err)
	}
}

// TestPutCorruptedOnTheWay flips a byte of the body on its way to the
// server: the server's SHA-256 check refuses it, and Put fails for good
// rather than storing bad bytes or calling it an outage.
func TestPutCorruptedOnTheWay(t *testing.T) {
	srv := s3test.Start(t)
	for _, size := range []int64{1 << 20, 11 << 20} {
		t.Run(itoa(size), func(t *testing.T) {
			c := newCounter()
			opts := testOptions(srv)
			opts.Transport = c
			s := newStore(t, opts)
			path, obj := writeFile(t, size, uint64(size), "video/mp4", "mp4")
			c.corrupt = 1
			_, err := s.Put(context.Background(), obj, path)
			if err == nil {
				t.Fatal("Put of corrupted bytes succeeded")
			}
			t.Logf("refused: %v", err)
			if errors.Is(err, ErrUnavailable) {
				t.Errorf("Put = %v: a checksum refusal is not an outage", err)
			}
			if _, err := srv.Client.StatObject(context.Background(), srv.Bucket, s.Key(obj.SHA256, obj.Ext), minio.StatObjectOptions{}); err == nil {
				t.Error("the corrupted object was stored")
			}
			if _, err := s.Put(context.Background(), obj, path); err != nil {
				t.Fatalf("Put once the network is fine: %v", err)
			}
			checkStored(t, srv, s, obj)
		})
	}
}

// TestPutHungServer freezes the server in the middle of an upload: the
// idle timeout turns the silence into a failure, Put gives up with
// ErrUnavailable in bounded time, and works once the server runs again.
func TestPutHungServer(t *testing.T) {
	srv := s3test.Start(t)
	opts := testOptions(srv)
	// The real transport, whose idle timeout is under test, counted.
	c := &counter{rt: newTransport(time.Second, false), counts: map[string]int{}}
	opts.Transport = c
	opts.Attempts, opts.RequestRetries = 2, 1
	s := newStore(t, opts)
	path, obj := writeFile(t, 11<<20, 6, "video/mp4", "mp4")
	var once sync.Once
	c.onPart = func() { once.Do(srv.Pause) }
	start := time.Now()
	_, err := s.Put(context.Background(), obj, path)
	elapsed := time.Since(start)
	srv.Resume()
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Put to a hung server = %v, want ErrUnavailable", err)
	}
	// 2 attempts of 1 request, each failing after 1s of silence; a HEAD
	// after each; 20ms of backoff.
	if elapsed > 8*time.Second {
		t.Errorf("Put took %v to give up on a hung server", elapsed)
	}
	if c.get("part") == 0 {
		t.Error("no part was sent: the server hung before the upload")
	}
	t.Logf("gave up after %v: %v", elapsed.Round(time.Millisecond), err)
	c.mu.Lock()
	c.onPart = nil
	c.mu.Unlock()
	if _, err := s.Put(context.Background(), obj, path); err != nil {
		t.Fatalf("Put after resume: %v", err)
	}
	checkStored(t, srv, s, obj)
}

func TestTransient(t *testing.T) {
	refused := &url.Error{Op: "Put", URL: "http://127.0.0.1:1", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", refused, true},
		{"reset", fmt.Errorf("upload: %w", syscall.ECONNRESET), true},
		{"503", minio.ErrorResponse{StatusCode: 503, Code: "ServiceUnavailable"}, true},
		{"500", minio.ErrorResponse{StatusCode: 500, Code: "InternalError"}, true},
		{"slow down", minio.ErrorResponse{StatusCode: 503, Code: "SlowDown"}, true},
		{"429", minio.ErrorResponse{StatusCode: 429}, true},
		{"403", minio.ErrorResponse{StatusCode: 403, Code: "AccessDenied"}, false},
		{"no bucket", minio.ErrorResponse{StatusCode: 404, Code: "NoSuchBucket"}, false},
		{"bad digest", minio.ErrorResponse{StatusCode: 400, Code: "BadDigest"}, false},
		{"unknown CA", &url.Error{Op: "Put", URL: "https://x", Err: x509.UnknownAuthorityError{}}, false},
		{"http to https", &url.Error{Op: "Put", URL: "https://x", Err: tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}}, false},
		{"not found", ErrNotFound, false},
		{"mismatch", &MismatchError{}, false},
		{"local", errors.New("read spool: input/output error"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := transient(tt.err); got != tt.want {
				t.Errorf("transient(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestPutDeadline is a hung server and a caller with a deadline: Put
// reports ErrUnavailable when the deadline passes, long before its own
// retries would give up.
func TestPutDeadline(t *testing.T) {
	srv := s3test.Start(t)
	opts := testOptions(srv)
	opts.Transport = nil
	opts.IdleTimeout = time.Minute
	s := newStore(t, opts)
	path, obj := writeFile(t, 1000, 8, "image/jpeg", "jpg")
	srv.Pause()
	defer srv.Resume()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := s.Put(ctx, obj, path)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Put = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Put took %v with a 1s deadline", d)
	}
}
