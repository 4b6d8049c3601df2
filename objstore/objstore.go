// Package objstore keeps big media in S3-compatible object storage (AWS
// S3, Cloudflare R2, Backblaze B2, MinIO, versitygw) instead of the site's
// git repository.
//
// Objects are content-addressed like the repository's files:
// <prefix>/ab/cd/<sha256>.<ext>, with the same shard folders. Put streams a
// spooled file to the bucket in parallel multipart parts whose checksums
// the server checks, keeps the whole file's SHA-256 in the object's
// metadata (x-amz-meta-sha256) and does nothing when the right object is
// already there, so retries, crashes between the object and the commit,
// and two spanos uploading the same bytes are all harmless. Verify and
// List give fsck what it needs to find missing, damaged and orphaned
// objects; nothing here ever deletes an object. Offload and Rule decide
// which files go to the bucket at all.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"spano/hashstore"
)

// Errors returned by Store methods. The server maps ErrUnavailable to 503
// (temporarily_unavailable, Retry-After; nothing committed); fsck reports
// ErrNotFound and ErrMismatch.
var (
	// ErrUnavailable means the bucket stayed unreachable (network errors,
	// timeouts, 5xx or throttling) through every retry.
	ErrUnavailable = errors.New("object storage unavailable")
	// ErrNotFound means no object has the key.
	ErrNotFound = errors.New("object not found")
	// ErrMismatch means an object has the key but not the expected size,
	// SHA-256 or type.
	ErrMismatch = errors.New("object does not match")
)

// MismatchError describes an object that is not what its key promises.
// It matches ErrMismatch with errors.Is.
type MismatchError struct {
	Key        string
	WantSize   int64
	GotSize    int64
	WantSHA    string
	GotSHA     string // "" when the object has no sha256 metadata
	WantType   string
	GotType    string
	Downloaded bool // GotSHA is the hash of the downloaded bytes, not the metadata
}

func (e *MismatchError) Error() string {
	var why []string
	if e.GotSize != e.WantSize {
		why = append(why, fmt.Sprintf("size %d, want %d", e.GotSize, e.WantSize))
	}
	if e.GotSHA != e.WantSHA {
		src := "sha256 metadata"
		if e.Downloaded {
			src = "sha256 of its bytes"
		}
		got := e.GotSHA
		if got == "" {
			got = "missing"
		}
		why = append(why, fmt.Sprintf("%s %s, want %s", src, got, e.WantSHA))
	}
	if e.WantType != "" && e.GotType != e.WantType {
		why = append(why, fmt.Sprintf("content-type %q, want %q", e.GotType, e.WantType))
	}
	return fmt.Sprintf("object %s does not match: %s", e.Key, strings.Join(why, "; "))
}

// Is makes errors.Is(err, ErrMismatch) hold.
func (e *MismatchError) Is(target error) bool { return target == ErrMismatch }

// unavailableError wraps the last failure of an operation that kept
// failing in a way that may pass (the bucket is down or overloaded).
type unavailableError struct {
	op  string
	err error
}

func (e *unavailableError) Error() string {
	return fmt.Sprintf("%s: object storage unavailable: %v", e.op, e.err)
}
func (e *unavailableError) Unwrap() error        { return e.err }
func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

// CacheControl is sent with every object: its key is its content's hash,
// so it never changes and caches may keep it for a year.
const CacheControl = "public, max-age=31536000, immutable"

// MetaSHA256 is the user metadata key (x-amz-meta-sha256) that holds the
// whole file's SHA-256 in lowercase hex; fsck compares it with the record.
const MetaSHA256 = "sha256"

// Defaults for the zero values of Options.
const (
	DefaultPartSize       = 16 << 20 // bytes
	DefaultParallel       = 4
	DefaultAttempts       = 3
	DefaultRequestRetries = 2
	DefaultBackoff        = 500 * time.Millisecond
	DefaultMaxBackoff     = 4 * time.Second
	DefaultIdleTimeout    = 15 * time.Second
)

// Options configures a Store. cmd/spano fills it from storage.s3.
type Options struct {
	// Endpoint is the service's URL, scheme and host only:
	// "https://<account>.r2.cloudflarestorage.com". http:// is accepted
	// only for loopback hosts (a local test server): elsewhere the keys'
	// signatures and the media would cross the network in clear.
	Endpoint string
	Region   string // "auto" for R2; "" asks the service
	Bucket   string
	// Prefix is the folder of the objects in the bucket ("media"); "" puts
	// the shard folders at the bucket's root.
	Prefix string
	// Depth and Width shape the shard folders exactly as media.depth and
	// media.width do in the repository (pass those: 2 and 2 give
	// "ab/cd/"); Depth 0 puts every object directly under Prefix.
	Depth, Width int
	AccessKey    string
	SecretKey    string
	// PublicURL is where the site's readers fetch <prefix>/ from (the
	// bucket's public domain or a CDN); required. A trailing slash is
	// dropped.
	PublicURL string
	Logger    *slog.Logger

	// PartSize is the multipart part size in bytes (zero: 16 MiB; at
	// least 5 MiB, S3's minimum). Files up to one part go in a single PUT.
	PartSize int64
	// Parallel is how many parts are in flight at once (zero: 4).
	Parallel int
	// Attempts is how many times an operation (a whole upload, a HEAD) is
	// tried when it fails in a way that may pass, with exponential
	// backoff from Backoff to MaxBackoff between tries (zero values: 3,
	// 500ms, 4s).
	Attempts   int
	Backoff    time.Duration
	MaxBackoff time.Duration
	// RequestRetries is how many times the client tries one request (one
	// part) inside an attempt, up to a second apart, so one failed part
	// does not restart the upload (zero: 2).
	RequestRetries int
	// IdleTimeout fails a request whose connection moves no byte for this
	// long (a hung server), so it is retried (zero: 15s).
	//
	// With the defaults a bucket that refuses connections is given up
	// after about 5 s; a hung one after about Attempts × RequestRetries ×
	// 2 × IdleTimeout (the part, then the abort of the upload), 3 minutes
	// at most. A caller in a hurry passes a context with a deadline.
	IdleTimeout time.Duration
	// Transport, if set, replaces the HTTP transport (tests route it
	// through a recording proxy). IdleTimeout does not apply to it.
	Transport http.RoundTripper
	// Sleep waits between attempts; nil uses a timer. Tests inject it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Store puts and checks objects in one bucket. It is safe for concurrent
// use.
type Store struct {
	client    *minio.Client
	bucket    string
	prefix    string
	depth     int
	width     int
	publicURL string
	log       *slog.Logger

	partSize   int64
	parallel   int
	attempts   int
	backoff    time.Duration
	maxBackoff time.Duration
	sleep      func(ctx context.Context, d time.Duration) error
	listPage   int // keys per list request; 0 is the server's page (1000)
}

// New checks opts and returns a Store. It makes no request: a bucket that
// is down at start-up must not stop spano serving in-repository uploads.
func New(opts Options) (*Store, error) {
	o, err := withDefaults(opts)
	if err != nil {
		return nil, err
	}
	u, err := parseEndpoint(o.Endpoint)
	if err != nil {
		return nil, err
	}
	tr := o.Transport
	if tr == nil {
		tr = newTransport(o.IdleTimeout, u.Scheme == "https")
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:           credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure:          u.Scheme == "https",
		Region:          o.Region,
		Transport:       tr,
		TrailingHeaders: true,
		MaxRetries:      o.RequestRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("objstore: client for %s: %w", u.Host, err)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{
		client:     client,
		bucket:     o.Bucket,
		prefix:     o.Prefix,
		depth:      o.Depth,
		width:      o.Width,
		publicURL:  strings.TrimRight(o.PublicURL, "/"),
		log:        log.With("system", "objstore"),
		partSize:   o.PartSize,
		parallel:   o.Parallel,
		attempts:   o.Attempts,
		backoff:    o.Backoff,
		maxBackoff: o.MaxBackoff,
		sleep:      o.Sleep,
	}, nil
}

// withDefaults fills zero values and refuses impossible ones.
func withDefaults(o Options) (Options, error) {
	if o.Bucket == "" {
		return o, errors.New("objstore: bucket is empty")
	}
	if o.AccessKey == "" || o.SecretKey == "" {
		return o, errors.New("objstore: access key or secret key is empty")
	}
	if err := checkPrefix(o.Prefix); err != nil {
		return o, err
	}
	// Without it an offloaded file would have no published URL.
	pu, err := url.Parse(o.PublicURL)
	if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" || pu.RawQuery != "" || pu.Fragment != "" {
		return o, fmt.Errorf("objstore: public url %q is not an http(s) URL of the prefix's folder", o.PublicURL)
	}
	if o.Depth < 0 || o.Depth > 8 || (o.Depth > 0 && (o.Width < 1 || o.Width > 8)) || o.Depth*o.Width > 32 {
		return o, fmt.Errorf("objstore: shard depth %d width %d out of range", o.Depth, o.Width)
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Parallel, DefaultParallel)
	def(&o.Attempts, DefaultAttempts)
	def(&o.RequestRetries, DefaultRequestRetries)
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < 5<<20 || o.PartSize > 5<<30 {
		return o, fmt.Errorf("objstore: part size %d not in 5MiB..5GiB", o.PartSize)
	}
	if o.Parallel < 1 || o.Attempts < 1 || o.RequestRetries < 1 {
		return o, errors.New("objstore: parallel, attempts and request retries must be positive")
	}
	if o.Backoff == 0 {
		o.Backoff = DefaultBackoff
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Sleep == nil {
		o.Sleep = sleepCtx
	}
	return o, nil
}

// parseEndpoint accepts "https://host[:port]" anywhere and
// "http://host[:port]" on loopback only.
func parseEndpoint(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("objstore: endpoint %q: %w", s, err)
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("objstore: endpoint %q must be a scheme and host only, e.g. https://s3.example.com", s)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("objstore: endpoint %q: http:// only on loopback; use https://", s)
		}
	default:
		return nil, fmt.Errorf("objstore: endpoint %q must start with https://", s)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkPrefix refuses prefixes that would make keys ambiguous or odd.
func checkPrefix(p string) error {
	if p == "" {
		return nil
	}
	if strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return fmt.Errorf("objstore: prefix %q must not start or end with /", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("objstore: prefix %q has an empty, . or .. folder", p)
		}
	}
	return nil
}

// Key returns the object key of a file: "<prefix>/ab/cd/<sha256>.<ext>".
// sha256 must be 64 lowercase hex characters and ext one hashstore knows;
// anything else is a programming error and panics, as in hashstore.Path.
func (s *Store) Key(sha256, ext string) string {
	rel := s.rel(sha256, ext)
	if s.prefix == "" {
		return rel
	}
	return s.prefix + "/" + rel
}

// PublicURL returns the URL the site publishes a file at:
// Options.PublicURL + "/ab/cd/<sha256>.<ext>".
func (s *Store) PublicURL(sha256, ext string) string {
	return s.publicURL + "/" + s.rel(sha256, ext)
}

// rel is the key below the prefix.
func (s *Store) rel(sha256, ext string) string {
	if !hashstore.IsHash(sha256) {
		panic(fmt.Sprintf("objstore: %.80q is not a lowercase hex SHA-256", sha256))
	}
	if _, ok := hashstore.TypeFor(ext); !ok {
		panic(fmt.Sprintf("objstore: unknown extension %.20q", ext))
	}
	var b strings.Builder
	for i := range s.depth {
		b.WriteString(sha256[i*s.width : (i+1)*s.width])
		b.WriteByte('/')
	}
	b.WriteString(sha256)
	b.WriteByte('.')
	b.WriteString(ext)
	return b.String()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
