package repo

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// DefaultWarnSize is the media size past which spano warns by default:
// 800 MB, under the 1 GB at which GitHub Pages stops publishing a site
// (and GitHub asks that a repository stay).
const DefaultWarnSize = 800_000_000

// MediaBytes returns the total size of the files under dir ("" for the
// whole tree) on the branch head: what the site publishes from the
// repository. It reads every tree and every blob's size, about 0.2 ms a
// file for loose objects, so callers run it off the request path;
// SizeWarning.Measure remembers the totals of trees it has measured and
// reads only the trees a commit made.
func (r *Repo) MediaBytes(ctx context.Context, dir string) (int64, error) {
	total, _, err := mediaBytes(ctx, r, dir, treeSizes{})
	return total, err
}

// treeSizes holds the measured trees by hash: a tree's contents, and so
// its total, never change.
type treeSizes map[plumbing.Hash]treeSize

type treeSize struct {
	bytes int64
	trees []plumbing.Hash // the trees directly below it
}

// mediaBytes sums the sizes of the files under dir, taking the totals of
// the trees in sizes from there and adding the trees it reads. It returns
// the tree at dir too (zero when there is none).
func mediaBytes(ctx context.Context, r *Repo, dir string, sizes treeSizes) (int64, plumbing.Hash, error) {
	h, err := r.History(ctx)
	if err != nil {
		return 0, plumbing.ZeroHash, fmt.Errorf("media bytes: %w", err)
	}
	defer h.Close()
	root, err := h.headTree(dir)
	if err != nil || root.IsZero() {
		return 0, root, err
	}
	total, err := h.treeBytes(ctx, root, sizes)
	if err != nil {
		return 0, root, fmt.Errorf("media bytes of %s: %w", dir, err)
	}
	return total, root, nil
}

// treeBytes returns the size of the files below tree t.
func (h *History) treeBytes(ctx context.Context, t plumbing.Hash, sizes treeSizes) (int64, error) {
	if s, ok := sizes[t]; ok {
		return s.bytes, nil
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	tree, err := object.GetTree(h.st, t)
	if err != nil {
		return 0, fmt.Errorf("read tree %s: %w", t, err)
	}
	var s treeSize
	for _, e := range tree.Entries {
		switch e.Mode {
		case filemode.Dir:
			n, err := h.treeBytes(ctx, e.Hash, sizes)
			if err != nil {
				return 0, err
			}
			s.bytes += n
			s.trees = append(s.trees, e.Hash)
		case filemode.Regular, filemode.Executable:
			n, err := h.st.EncodedObjectSize(e.Hash)
			if err != nil {
				return 0, fmt.Errorf("read size of %s in tree %s: %w", e.Name, t, err)
			}
			s.bytes += n
		}
	}
	sizes[t] = s
	return s.bytes, nil
}

// prune drops the trees not below root, and returns how many are left.
func (sizes treeSizes) prune(root plumbing.Hash) int {
	keep := map[plumbing.Hash]bool{}
	var mark func(t plumbing.Hash)
	mark = func(t plumbing.Hash) {
		if s, ok := sizes[t]; ok && !keep[t] {
			keep[t] = true
			for _, c := range s.trees {
				mark(c)
			}
		}
	}
	mark(root)
	for t := range sizes {
		if !keep[t] {
			delete(sizes, t)
		}
	}
	return len(sizes)
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
	sizes treeSizes // for Measure
	kept  int       // trees in sizes after its last prune
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
// MediaBytes), remembering the totals of the trees it read, so that the
// next Measure reads only the trees made since (a commit makes those on
// its files' paths), and observes it. Run it off the request path: at
// start, and after pushes or commits.
func (s *SizeWarning) Measure(ctx context.Context, r *Repo, dir string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sizes == nil {
		s.sizes = treeSizes{}
	}
	total, root, err := mediaBytes(ctx, r, dir, s.sizes)
	if err != nil {
		return 0, err
	}
	if len(s.sizes) > 2*s.kept+64 {
		// The trees of commits since the last prune: drop those no longer
		// on the branch, now and then, not on every measure.
		s.kept = s.sizes.prune(root)
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
