package objstore

import (
	"errors"
	"fmt"
	"strings"
)

// Offload is storage.offload: which files go to the bucket when object
// storage is configured.
type Offload struct {
	// MinSize sends files at least this many bytes; 0 sends none by size.
	MinSize int64
	// Types sends files of these MIME types: exact ("video/mp4") or a
	// whole top-level type ("video/*").
	Types []string
}

// Validate refuses type patterns Selects would not understand, naming
// the bad one, so config can report it at start-up.
func (o Offload) Validate() error {
	if o.MinSize < 0 {
		return fmt.Errorf("min size %d is negative", o.MinSize)
	}
	for _, p := range o.Types {
		top, sub, ok := strings.Cut(p, "/")
		if !ok || top == "" || sub == "" || top == "*" || strings.ContainsAny(top, "* ") ||
			(sub != "*" && strings.ContainsAny(sub, "* ")) || p != strings.ToLower(p) {
			return fmt.Errorf("type %q is not a lowercase MIME type or type/*", p)
		}
	}
	return nil
}

// Selects reports whether a file of size bytes and mimeType goes to the
// bucket by this rule alone (see Rule for the git host's limit).
func (o Offload) Selects(size int64, mimeType string) bool {
	if o.MinSize > 0 && size >= o.MinSize {
		return true
	}
	mimeType = strings.ToLower(mimeType)
	top, _, _ := strings.Cut(mimeType, "/")
	for _, p := range o.Types {
		if p == mimeType {
			return true
		}
		if ptop, ok := strings.CutSuffix(p, "/*"); ok && ptop == top {
			return true
		}
	}
	return false
}

// ErrTooBigForGit means a file reached repo.max_file_size and no object
// storage is configured to take it; the server answers 413.
var ErrTooBigForGit = errors.New("file too big for the git repository")

// GitLimitError is ErrTooBigForGit with the limit, so the server's 413
// can say what it is and how to lift it.
type GitLimitError struct {
	Size, Limit int64
}

func (e *GitLimitError) Error() string {
	return fmt.Sprintf("file of %d bytes is at least repo.max_file_size (%d bytes), which the git host refuses; "+
		"configure storage.s3 to keep such files in object storage", e.Size, e.Limit)
}

// Is makes errors.Is(err, ErrTooBigForGit) hold.
func (e *GitLimitError) Is(target error) bool { return target == ErrTooBigForGit }

// Rule is the one place that decides where an upload goes.
type Rule struct {
	// Storage is whether storage.s3 is configured.
	Storage bool
	Offload Offload
	// MaxFileSize is repo.max_file_size: a file at least this big is
	// never committed. 0 means no limit.
	MaxFileSize int64
}

// MustOffload reports whether a file of size bytes is too big to commit.
func (r Rule) MustOffload(size int64) bool {
	return r.MaxFileSize > 0 && size >= r.MaxFileSize
}

// ToBucket reports whether a file goes to object storage (true) or into
// the repository (false). A file too big to commit with no storage to
// take it is a *GitLimitError.
func (r Rule) ToBucket(size int64, mimeType string) (bool, error) {
	if !r.Storage {
		if r.MustOffload(size) {
			return false, &GitLimitError{Size: size, Limit: r.MaxFileSize}
		}
		return false, nil
	}
	return r.MustOffload(size) || r.Offload.Selects(size, mimeType), nil
}
