package repo

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// DefaultWarnSize is the media size past which spano warns by default:
// 800 MB, under the 1 GB at which GitHub Pages stops publishing a site
// (and GitHub asks that a repository stay).
const DefaultWarnSize = 800_000_000

// MediaBytes returns the total size of the files under dir ("" for the
// whole tree) on the branch head: what the site publishes from the
// repository. It reads every blob's size, about 0.2 ms a file for loose
// objects, so callers run it off the request path; SizeWarning.Measure
// remembers the sizes and reads only the new blobs.
func (r *Repo) MediaBytes(ctx context.Context, dir string) (int64, error) {
	return mediaBytes(ctx, r, dir, nil)
}

// mediaBytes sums the sizes of the files under dir, taking those of the
// blobs in sizes from there and adding the others to it; sizes is then
// left holding only the blobs seen (nil: no cache).
func mediaBytes(ctx context.Context, r *Repo, dir string, sizes map[string]int64) (int64, error) {
	h, err := r.History(ctx)
	if err != nil {
		return 0, fmt.Errorf("media bytes: %w", err)
	}
	defer h.Close()
	files, err := h.Files(ctx, dir)
	if err != nil {
		return 0, fmt.Errorf("media bytes of %s: %w", dir, err)
	}
	seen := make(map[string]bool, len(files))
	var total int64
	for _, f := range files {
		size, ok := sizes[f.Blob]
		if !ok {
			if size, err = h.Size(f.Blob); err != nil {
				return 0, fmt.Errorf("media bytes of %s: %w", dir, err)
			}
			if sizes != nil {
				sizes[f.Blob] = size
			}
		}
		seen[f.Blob] = true
		total += size
	}
	for b := range sizes {
		if !seen[b] {
			delete(sizes, b)
		}
	}
	return total, nil
}

// A SizeWarning tells the owner, in the log, when the media in the
// repository passes the size they set: once when it passes, once when it
// is back under (media deleted), and never in between, however often it
// is told the total. Its accessors feed metrics. It is safe for
// concurrent use.
type SizeWarning struct {
	limit int64
	log   *slog.Logger

	mu    sync.Mutex
	total int64
	over  bool
	sizes map[string]int64 // blob → size, for Measure
}

// NewSizeWarning returns a SizeWarning for limit bytes; 0 or less turns
// the warning off (Observe only records the total).
func NewSizeWarning(limit int64, log *slog.Logger) *SizeWarning {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &SizeWarning{limit: limit, log: log.With("system", "repo")}
}

// Observe records the media's total size and reports whether it is at
// or over the limit.
func (s *SizeWarning) Observe(total int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.observe(total)
}

func (s *SizeWarning) observe(total int64) bool {
	s.total = total
	over := s.limit > 0 && total >= s.limit
	switch {
	case over && !s.over:
		s.log.Warn("the media in the repository passed repo.warn_size: GitHub Pages stops at 1 GB; move big media to object storage (storage.s3) or raise the limit",
			"media_bytes", total, "warn_size", s.limit)
	case !over && s.over:
		s.log.Info("the media in the repository is back under repo.warn_size", "media_bytes", total, "warn_size", s.limit)
	}
	s.over = over
	return over
}

// Measure reads the size of the media under dir on r's branch (see
// MediaBytes), remembering blob sizes so that the next Measure reads
// only the trees and the new blobs, and observes it. Run it off the
// request path: at start, and after pushes or commits.
func (s *SizeWarning) Measure(ctx context.Context, r *Repo, dir string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sizes == nil {
		s.sizes = map[string]int64{}
	}
	total, err := mediaBytes(ctx, r, dir, s.sizes)
	if err != nil {
		return 0, err
	}
	s.observe(total)
	return total, nil
}

// Total returns the last total observed.
func (s *SizeWarning) Total() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// Limit returns the size the warning is set at; 0 when off.
func (s *SizeWarning) Limit() int64 { return max(s.limit, 0) }

// Over reports whether the last total observed was at or over the limit.
func (s *SizeWarning) Over() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.over
}
