package index

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"spano/hashstore"
	"spano/repo"
)

// Load builds the index from r's branch: the files in the media folder
// at head, then history, newest first, only until the commit that added
// each of those files is found. An upload commit names its file in its
// trailers (Media-SHA256, Media-Type) and says the rest (size, image
// size, client, filename), so for spano's history no tree is compared and
// no file is read; only commits without trailers (made by hand) are
// compared with their parent. Notices that arrived before Load are
// applied afterwards.
func (x *Index) Load(ctx context.Context, r *repo.Repo) error {
	start := time.Now()
	hist, err := r.History(ctx)
	if err != nil {
		return fmt.Errorf("load index: %w", err)
	}
	defer hist.Close()
	x.mu.Lock()
	x.repo = r
	x.mu.Unlock()
	order, commits, err := x.build(ctx, hist)
	if err != nil {
		return fmt.Errorf("load index: %w", err)
	}

	x.mu.Lock()
	x.order = order
	for _, e := range order {
		x.byPath[e.Path] = e
		x.bySHA[e.SHA256] = e
	}
	x.seq = uint64(len(order))
	x.mu.Unlock()
	x.log.Info("media index loaded", "media", len(order), "commits_read", commits,
		"took", time.Since(start).Round(time.Millisecond))

	// Notices that came meanwhile, in order; ones arriving while these are
	// applied queue behind them.
	for {
		x.mu.Lock()
		queue := x.queue
		x.queue = nil
		if len(queue) == 0 {
			x.loaded = true
			x.mu.Unlock()
			return nil
		}
		x.mu.Unlock()
		for _, n := range queue {
			x.apply(n)
		}
	}
}

// build reads the media at the history's head and dates them. It returns
// the entries in index order and the number of commits read.
func (x *Index) build(ctx context.Context, hist *repo.History) ([]*entry, int, error) {
	files, err := hist.Files(ctx, x.mediaDir)
	if err != nil {
		return nil, 0, err
	}
	type thumb struct {
		path, sha string
		width     int
	}
	present := map[string]int64{} // originals at head, and their sizes
	var thumbs []thumb
	for _, f := range files {
		ref, ok := x.ref(f.Path)
		switch {
		case !ok:
			continue
		case ref.Width > 0:
			thumbs = append(thumbs, thumb{f.Path, ref.SHA256, ref.Width})
		default:
			size, err := hist.Size(f.Blob)
			if err != nil {
				return nil, 0, err
			}
			present[f.Path] = size
		}
	}

	// age counts commits from the head, so that within one second the
	// newer commit sorts first.
	type dated struct {
		e   *entry
		age int
	}
	found := make(map[string]dated, len(present))
	date := func(p string, c repo.CommitInfo, age int) {
		size, ok := present[p]
		if !ok {
			return
		}
		if _, done := found[p]; done {
			return
		}
		ref, _ := x.ref(p)
		e := newEntry(p, ref, c)
		e.Size, e.needSize = size, false // the tree is the truth
		found[p] = dated{e, age}
	}
	// The first pass believes upload commits' trailers. Should a file
	// stay undated (someone rewrote a commit by hand), the second pass
	// compares every commit's tree.
	read := 0
	var oldest time.Time
	for _, trust := range []bool{true, false} {
		if len(found) == len(present) {
			break
		}
		age := 0
		err := hist.Commits(ctx, func(info repo.CommitInfo) error {
			if len(found) == len(present) {
				return repo.ErrStopWalk
			}
			age++
			read++
			oldest = info.Time
			switch kind, p := x.uploadCommit(info.Message); {
			case trust && kind == kindAdd:
				date(p, info, age)
			case trust && kind == kindDelete:
			default:
				added, _, err := hist.Changes(info.Hash, x.mediaDir)
				if err != nil {
					return err
				}
				for _, p := range added {
					date(p, info, age)
				}
			}
			return nil
		})
		if err != nil {
			return nil, read, err
		}
	}
	for p := range present {
		// Added before the oldest commit this clone has (a shallow
		// clone): it sorts as the oldest.
		date(p, repo.CommitInfo{Time: oldest}, math.MaxInt)
	}

	all := make([]dated, 0, len(found))
	for _, d := range found {
		all = append(all, d)
	}
	slices.SortFunc(all, func(a, b dated) int {
		if c := a.e.Published.Compare(b.e.Published); c != 0 {
			return c
		}
		if c := cmp.Compare(b.age, a.age); c != 0 {
			return c
		}
		return cmp.Compare(a.e.Path, b.e.Path)
	})
	order := make([]*entry, len(all))
	bySHA := make(map[string]*entry, len(all))
	for i, d := range all {
		d.e.seq = uint64(i + 1)
		order[i] = d.e
		bySHA[d.e.SHA256] = d.e
	}
	for _, t := range thumbs {
		if e, ok := bySHA[t.sha]; ok {
			e.addThumbnail(t.path, t.width)
		}
	}
	return order, read, nil
}

// Kinds of commit spano makes.
const (
	kindOther = iota
	kindAdd
	kindDelete
)

// uploadCommit tells an upload or delete commit made by spano from any
// other by its subject and trailers, and returns the path it names.
func (x *Index) uploadCommit(m repo.Message) (int, string) {
	sha := m.Value(TrailerSHA256)
	ext, ok := hashstore.ExtFor(m.Value(TrailerType))
	if !ok || !isHash(sha) {
		return kindOther, ""
	}
	p := x.store.Path(sha, ext)
	switch {
	case strings.HasPrefix(m.Subject, "Add "):
		return kindAdd, p
	case strings.HasPrefix(m.Subject, "Delete "):
		return kindDelete, p
	}
	return kindOther, ""
}

// isHash reports whether s is 64 lowercase hex characters, as
// hashstore.Store.Path requires.
func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
