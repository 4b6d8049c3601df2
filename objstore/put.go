package objstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"

	"spano/hashstore"
)

// Object names a file by its content and says what it is.
type Object struct {
	SHA256      string // the whole file's SHA-256, 64 lowercase hex
	Ext         string // its extension as hashstore names it, e.g. "mp4"
	Size        int64  // bytes
	ContentType string // its exact type, e.g. "video/mp4"
}

func (o Object) check() error {
	if !hashstore.IsHash(o.SHA256) {
		return fmt.Errorf("sha256 %.80q is not 64 lowercase hex", o.SHA256)
	}
	if _, ok := hashstore.TypeFor(o.Ext); !ok {
		return fmt.Errorf("unknown extension %.20q", o.Ext)
	}
	if o.Size <= 0 {
		return fmt.Errorf("size %d is not positive", o.Size)
	}
	if o.ContentType == "" {
		return errors.New("content type is empty")
	}
	return nil
}

// PutResult says what Put did.
type PutResult struct {
	Key string
	// Uploaded is false when the right object was already there (same
	// size and sha256 metadata) and nothing was sent.
	Uploaded bool
	// Replaced reports that a different object had the key (wrong size,
	// hash or type, or no sha256 metadata) and was overwritten with the
	// file's bytes. The key names the content, so the file's bytes are
	// the only right ones for it; the damage is also logged at Warn.
	Replaced error
}

// Put stores the file at path as obj in the bucket unless the right
// object is already there. It streams the file from disk in parallel parts
// (memory stays a few buffers per part in flight, whatever the size) with
// obj.ContentType, CacheControl, the whole file's SHA-256 in
// x-amz-meta-sha256, and a SHA-256 checksum the server verifies: of the
// whole file for a single PUT, of each part for a multipart upload. It
// checks the stored object's size and metadata afterwards.
//
// Failures that may pass (network errors, timeouts, 5xx, throttling) are
// retried with backoff; when they last through Options.Attempts, or until
// ctx's deadline, the error matches ErrUnavailable (a canceled ctx gives
// context.Canceled). A caller that must answer in bounded time passes a
// deadline. Two Puts of the same file at once, in one
// process or two, both succeed and leave one object.
func (s *Store) Put(ctx context.Context, obj Object, path string) (PutResult, error) {
	if err := obj.check(); err != nil {
		return PutResult{}, fmt.Errorf("put: %w", err)
	}
	key := s.Key(obj.SHA256, obj.Ext)
	res := PutResult{Key: key}
	f, err := os.Open(path)
	if err != nil {
		return res, fmt.Errorf("put %s: %w", key, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return res, fmt.Errorf("put %s: %w", key, err)
	}
	if fi.Size() != obj.Size {
		return res, fmt.Errorf("put %s: file %s has %d bytes, want %d", key, path, fi.Size(), obj.Size)
	}

	err = s.retry(ctx, "stat "+key, func(ctx context.Context) error {
		return s.check(ctx, key, obj)
	})
	switch {
	case err == nil:
		s.log.Debug("object already stored", "key", key)
		return res, nil
	case errors.Is(err, ErrMismatch):
		s.log.Warn("replacing a wrong object", "key", key, "err", err)
		res.Replaced = err
	case !errors.Is(err, ErrNotFound):
		return res, fmt.Errorf("put: %w", err)
	}

	start := time.Now()
	err = s.retry(ctx, "upload "+key, func(ctx context.Context) error {
		_, err := s.client.PutObject(ctx, s.bucket, key, io.NewSectionReader(f, 0, obj.Size), obj.Size, s.putOptions(obj))
		if err != nil && !transient(err) && ctx.Err() == nil && s.check(ctx, key, obj) == nil {
			// The upload completed but its answer was lost (a retried
			// complete then finds no upload), or another spano stored
			// the same bytes meanwhile: the object is right.
			return nil
		}
		return err
	})
	if err != nil {
		return res, fmt.Errorf("put: %w", err)
	}
	res.Uploaded = true
	// The server checked the checksums; this checks that it kept what
	// fsck and the next Put will compare.
	err = s.retry(ctx, "stat "+key, func(ctx context.Context) error {
		return s.check(ctx, key, obj)
	})
	if err != nil {
		return res, fmt.Errorf("put: after upload: %w", err)
	}
	s.log.Info("object stored", "key", key, "size", obj.Size, "seconds", time.Since(start).Seconds())
	return res, nil
}

// putOptions are the headers and upload shape of obj.
func (s *Store) putOptions(obj Object) minio.PutObjectOptions {
	opts := minio.PutObjectOptions{
		ContentType:          obj.ContentType,
		CacheControl:         CacheControl,
		UserMetadata:         map[string]string{MetaSHA256: obj.SHA256},
		PartSize:             uint64(s.partSize),
		NumThreads:           uint(s.parallel),
		DisableContentSha256: true,
	}
	if obj.Size <= s.partSize {
		// One PUT: the server checks the whole file's SHA-256, which we
		// already know from the spool.
		sum, _ := hex.DecodeString(obj.SHA256)
		opts.UserMetadata["X-Amz-Checksum-Sha256"] = base64.StdEncoding.EncodeToString(sum)
		opts.DisableMultipart = true
	} else {
		// Each part carries its SHA-256 in a trailer the server checks
		// before it accepts the part.
		opts.Checksum = minio.ChecksumSHA256
	}
	return opts
}

// check compares the object at key with obj: nil when it matches,
// ErrNotFound, a *MismatchError, or the request's error.
func (s *Store) check(ctx context.Context, key string, obj Object) error {
	info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return s.statErr(key, err)
	}
	got := info.Metadata.Get("X-Amz-Meta-" + MetaSHA256)
	if info.Size != obj.Size || got != obj.SHA256 || info.ContentType != obj.ContentType {
		return &MismatchError{
			Key: key, WantSize: obj.Size, GotSize: info.Size,
			WantSHA: obj.SHA256, GotSHA: got,
			WantType: obj.ContentType, GotType: info.ContentType,
		}
	}
	return nil
}

// statErr turns a missing object into ErrNotFound.
func (s *Store) statErr(key string, err error) error {
	var er minio.ErrorResponse
	if errors.As(err, &er) && (er.StatusCode == 404 || er.Code == "NoSuchKey") {
		return fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return err
}

// retry runs fn until it succeeds, fails for good, or has failed
// s.attempts times in ways that may pass, or ctx's deadline passes while
// it does; then the error matches ErrUnavailable.
func (s *Store) retry(ctx context.Context, op string, fn func(context.Context) error) error {
	wait := s.backoff
	var err error
	for attempt := 1; ; attempt++ {
		err = fn(ctx)
		if err == nil || !transient(err) {
			return err
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// The caller's time for this ran out while the bucket kept
			// failing: to the caller that is an outage, not a cancel.
			return &unavailableError{op: op, err: err}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", op, ctx.Err())
		}
		if attempt >= s.attempts {
			return &unavailableError{op: op, err: err}
		}
		s.log.Warn("object storage failed, retrying", "op", op, "attempt", attempt, "wait", wait, "err", err)
		if serr := s.sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%s: %w", op, serr)
		}
		wait = min(2*wait, s.maxBackoff)
	}
}

// transient reports whether err may pass on its own: the network, a
// timeout, the server's 5xx or throttling. Refusals (403, 404, bad
// requests, checksum mismatches) do not.
func transient(err error) bool {
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrMismatch) {
		return false
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		switch er.Code {
		case "SlowDown", "Throttling", "ThrottlingException", "RequestTimeout",
			"InternalError", "ServiceUnavailable":
			return true
		}
		return er.StatusCode >= 500 || er.StatusCode == 429 || er.StatusCode == 408
	}
	var (
		unknownCA x509.UnknownAuthorityError
		badHost   x509.HostnameError
		badCert   x509.CertificateInvalidError
		tlsHeader tls.RecordHeaderError
	)
	if errors.As(err, &unknownCA) || errors.As(err, &badHost) || errors.As(err, &badCert) || errors.As(err, &tlsHeader) {
		return false // a wrong endpoint or certificate does not heal
	}
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, context.DeadlineExceeded)
}
