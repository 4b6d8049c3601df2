// Package hashstore turns an upload stream into a checked temporary file
// and knows where that file belongs in the site repository.
//
// Spool streams the upload to disk while hashing it, so memory use stays
// bounded whatever the upload's size; it sniffs the real type from the
// leading bytes (never trusting the client's headers or filename) and
// refuses anything outside the configured allowlist, including polyglots
// whose leading bytes carry markup a browser could render. Path, Parse and
// friends define the content-addressed layout media.dir/ab/cd/<sha256>.<ext>
// in one place, so the repository, the server and fsck agree on it.
package hashstore

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Errors returned by Spool and Parse. The server maps them to HTTP
// statuses: ErrTooLarge to 413, ErrEmpty to 400, ErrTypeNotAllowed to 415,
// ErrBadPath to 400 or 404.
var (
	ErrTooLarge       = errors.New("file too large")
	ErrEmpty          = errors.New("file is empty")
	ErrTypeNotAllowed = errors.New("file type not allowed")
	ErrBadPath        = errors.New("not a media path")
)

// SizeError reports an upload over Options.MaxSize. It matches ErrTooLarge
// with errors.Is and carries the limit so a client can be told what it is.
type SizeError struct {
	Limit int64 // bytes
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("file too large: limit is %d bytes", e.Limit)
}

// Is makes errors.Is(err, ErrTooLarge) hold.
func (e *SizeError) Is(target error) bool { return target == ErrTooLarge }

// ErrRead marks a failure to read the upload itself (the client's body),
// as opposed to a failure of the store's own disk: the first is the
// client's, the second the server's.
var ErrRead = errors.New("reading the upload failed")

// readError wraps a failure of the upload's reader so that it matches
// ErrRead and still unwraps to its cause.
type readError struct{ err error }

func (e *readError) Error() string   { return "read: " + e.err.Error() }
func (e *readError) Unwrap() []error { return []error{ErrRead, e.err} }

// TypeError reports content that may not be stored. It matches
// ErrTypeNotAllowed with errors.Is. Type is the sniffed type (safe to show
// a client); Reason is empty when the type is simply not in the allowlist.
type TypeError struct {
	Type   string // sniffed MIME type, e.g. "image/svg+xml"
	Reason string // e.g. "contains markup"; "" when Type is not allowed
}

func (e *TypeError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("file type %s not allowed: %s", e.Type, e.Reason)
	}
	return fmt.Sprintf("file type %s not allowed", e.Type)
}

// Is makes errors.Is(err, ErrTypeNotAllowed) hold.
func (e *TypeError) Is(target error) bool { return target == ErrTypeNotAllowed }

// Options configures a Store. cmd/spano fills it from the config file.
type Options struct {
	// TempDir holds spooled uploads until they are committed. It should sit
	// under data_dir (on the same file system as the repository) and is
	// created, mode 0700, if missing.
	TempDir string
	// MaxSize is the largest upload in bytes; Spool reads at most
	// MaxSize+1 bytes of a stream before refusing it.
	MaxSize int64
	// Types are the allowed MIME types (media.types). Every entry must be
	// one of the supported types (see TypeFor); empty means all of them.
	// SVG, HTML and other text types are never supported: served from the
	// site's origin they would run script there.
	Types []string
	// MediaDir is the repository folder for media, slash-separated and
	// relative, e.g. "media" or "static/media"; "" means the repository root.
	MediaDir string
	// Depth is the number of shard folders and Width the number of hex
	// characters naming each: depth 2, width 2 gives "ab/cd/abcd…". Depth 0
	// puts every file directly in MediaDir.
	Depth, Width int
}

// Limits on the shard layout: deeper trees only cost lookups, and the
// hash must keep enough characters to stay readable in the file name.
const (
	maxDepth       = 8
	maxWidth       = 8
	maxShardDigits = 32
)

// Store spools uploads and maps hashes to repository paths. It is safe for
// concurrent use.
type Store struct {
	tempDir  string
	maxSize  int64
	allowed  map[string]bool
	mediaDir string
	depth    int
	width    int
}

// New checks opts, creates the temp folder and returns a Store.
func New(opts Options) (*Store, error) {
	if opts.TempDir == "" {
		return nil, errors.New("hashstore: temp dir is empty")
	}
	if opts.MaxSize <= 0 || opts.MaxSize == math.MaxInt64 {
		// Spool reads up to MaxSize+1 bytes, which must not overflow.
		return nil, fmt.Errorf("hashstore: max size %d is not in 1..%d", opts.MaxSize, int64(math.MaxInt64-1))
	}
	if opts.Depth < 0 || opts.Depth > maxDepth {
		return nil, fmt.Errorf("hashstore: depth %d not in 0..%d", opts.Depth, maxDepth)
	}
	if opts.Depth > 0 && (opts.Width < 1 || opts.Width > maxWidth) {
		return nil, fmt.Errorf("hashstore: width %d not in 1..%d", opts.Width, maxWidth)
	}
	if opts.Depth*opts.Width > maxShardDigits {
		return nil, fmt.Errorf("hashstore: depth %d × width %d uses more than %d hex digits", opts.Depth, opts.Width, maxShardDigits)
	}
	mediaDir, err := cleanMediaDir(opts.MediaDir)
	if err != nil {
		return nil, err
	}
	allowed := make(map[string]bool)
	for _, t := range opts.Types {
		if _, ok := ExtFor(t); !ok {
			return nil, fmt.Errorf("hashstore: type %q is not supported (supported: %s)", t, strings.Join(SupportedTypes(), ", "))
		}
		allowed[t] = true
	}
	if len(allowed) == 0 {
		for _, t := range SupportedTypes() {
			allowed[t] = true
		}
	}
	dir, err := filepath.Abs(opts.TempDir)
	if err != nil {
		return nil, fmt.Errorf("hashstore: temp dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("hashstore: create temp dir: %w", err)
	}
	width := opts.Width
	if opts.Depth == 0 {
		width = 0
	}
	return &Store{
		tempDir:  dir,
		maxSize:  opts.MaxSize,
		allowed:  allowed,
		mediaDir: mediaDir,
		depth:    opts.Depth,
		width:    width,
	}, nil
}

// cleanMediaDir accepts a relative slash path that stays inside the
// repository; trailing slashes are dropped and "" or "." mean the root.
func cleanMediaDir(dir string) (string, error) {
	d := strings.TrimRight(dir, "/")
	if d == "" || d == "." {
		return "", nil
	}
	bad := strings.HasPrefix(d, "/") || strings.Contains(d, `\`) || path.Clean(d) != d
	for _, seg := range strings.Split(d, "/") {
		if seg == ".." || seg == "." || seg == ".git" {
			bad = true
		}
	}
	if bad {
		return "", fmt.Errorf("hashstore: media dir %q is not a clean relative path inside the repository", dir)
	}
	return d, nil
}

// tempPrefix names spooled files so CleanTemp removes only ours.
const tempPrefix = "spool-"

// CleanTemp removes spooled files left behind by a crash. Call it at
// start-up, before the first Spool: it would also remove the files of
// uploads in progress.
func (s *Store) CleanTemp() error {
	entries, err := os.ReadDir(s.tempDir)
	if err != nil {
		return fmt.Errorf("clean temp: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		if err := os.Remove(filepath.Join(s.tempDir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean temp: %w", err)
	}
	return nil
}
