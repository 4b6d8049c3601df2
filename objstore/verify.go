package objstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"spano/hashstore"
)

// Verify checks that the object for obj exists with obj's size, type and
// sha256 metadata; with deep it also downloads the object and hashes its
// bytes. It returns nil, an error matching ErrNotFound, a *MismatchError
// (ErrMismatch), or one matching ErrUnavailable. It never changes the
// bucket.
func (s *Store) Verify(ctx context.Context, obj Object, deep bool) error {
	if err := obj.check(); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	key := s.Key(obj.SHA256, obj.Ext)
	err := s.retry(ctx, "stat "+key, func(ctx context.Context) error {
		return s.check(ctx, key, obj)
	})
	if err != nil || !deep {
		return wrapOp("verify", err)
	}
	err = s.retry(ctx, "download "+key, func(ctx context.Context) error {
		return s.hashObject(ctx, key, obj)
	})
	return wrapOp("verify", err)
}

// hashObject downloads key and compares its length and SHA-256 with obj.
func (s *Store) hashObject(ctx context.Context, key string, obj Object) error {
	r, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return s.statErr(key, err)
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return s.statErr(key, err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if n != obj.Size || got != obj.SHA256 {
		return &MismatchError{
			Key: key, WantSize: obj.Size, GotSize: n,
			WantSHA: obj.SHA256, GotSHA: got, Downloaded: true,
		}
	}
	return nil
}

func wrapOp(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Entry is one object found by List.
type Entry struct {
	Key          string
	Size         int64
	LastModified time.Time
	// SHA256 and Ext are what the key names; both are "" for a key that
	// is not one Put would write (a foreign object under the prefix).
	SHA256, Ext string
}

// List yields every object under the prefix, in key order, so fsck can
// report objects that no record names (orphans, e.g. left by a crash
// between the object and its commit). A listing cut off in a way that
// may pass resumes after the last key, with backoff; an error (matching
// ErrUnavailable when it lasted) ends the sequence.
func (s *Store) List(ctx context.Context) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		after, wait := "", s.backoff
		for attempt := 1; ; attempt++ {
			stopped := false
			err := s.listAfter(ctx, after, func(e Entry) bool {
				after, attempt = e.Key, 1 // progress: a fresh budget
				stopped = !yield(e, nil)
				return !stopped
			})
			switch {
			case err == nil || stopped:
				return
			case !transient(err) || ctx.Err() != nil:
				yield(Entry{}, fmt.Errorf("list: %w", err))
				return
			case attempt >= s.attempts:
				yield(Entry{}, fmt.Errorf("list: %w", &unavailableError{op: "list", err: err}))
				return
			}
			s.log.Warn("listing failed, resuming", "after", after, "attempt", attempt, "err", err)
			if err := s.sleep(ctx, wait); err != nil {
				yield(Entry{}, fmt.Errorf("list: %w", err))
				return
			}
			wait = min(2*wait, s.maxBackoff)
		}
	}
}

// listAfter lists the keys under the prefix after the key after, calling
// fn with each until it returns false.
func (s *Store) listAfter(ctx context.Context, after string, fn func(Entry) bool) error {
	prefix := ""
	if s.prefix != "" {
		prefix = s.prefix + "/"
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio-go's listing goroutine when fn stops early
	opts := minio.ListObjectsOptions{Prefix: prefix, Recursive: true, StartAfter: after, MaxKeys: s.listPage}
	for info := range s.client.ListObjectsIter(ctx, s.bucket, opts) {
		if info.Err != nil {
			return info.Err
		}
		e := Entry{Key: info.Key, Size: info.Size, LastModified: info.LastModified}
		e.SHA256, e.Ext = s.parseKey(strings.TrimPrefix(info.Key, prefix))
		if !fn(e) {
			return nil
		}
	}
	return nil
}

// parseKey reads "ab/cd/<sha256>.<ext>" (below the prefix) and returns
// its hash and extension, or "", "" when rel is not exactly what rel()
// writes.
func (s *Store) parseKey(rel string) (sha, ext string) {
	parts := strings.Split(rel, "/")
	if len(parts) != s.depth+1 {
		return "", ""
	}
	sha, ext, ok := strings.Cut(parts[s.depth], ".")
	if !ok || !hashstore.IsHash(sha) {
		return "", ""
	}
	if _, known := hashstore.TypeFor(ext); !known {
		return "", ""
	}
	for i := range s.depth {
		if parts[i] != sha[i*s.width:(i+1)*s.width] {
			return "", ""
		}
	}
	return sha, ext
}

// errNoBucket is returned by CheckBucket.
var errNoBucket = errors.New("bucket does not exist")

// CheckBucket asks whether the bucket exists and the keys may see it;
// cmd/spano calls it at start-up to log a clear warning early. A bucket
// that is down gives an error matching ErrUnavailable.
func (s *Store) CheckBucket(ctx context.Context) error {
	return s.retry(ctx, "check bucket "+s.bucket, func(ctx context.Context) error {
		ok, err := s.client.BucketExists(ctx, s.bucket)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s: %w", s.bucket, errNoBucket)
		}
		return nil
	})
}
