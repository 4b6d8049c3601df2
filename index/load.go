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
	"spano/record"
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
	media, recds, err := x.trees(hist)
	if err != nil {
		return fmt.Errorf("load index: %w", err)
	}
	order, commits, from := x.readSnapshot(media, recds), 0, "snapshot"
	if order == nil {
		if order, commits, err = x.build(ctx, r, hist); err != nil {
			return fmt.Errorf("load index: %w", err)
		}
		from = "branch"
		if err := x.writeSnapshot(order, media, recds); err != nil {
			x.log.Warn("index snapshot not written: the next start builds the index again", "err", err)
		}
	}

	x.mu.Lock()
	x.order = order
	for _, e := range order {
		x.byPath[e.Path] = e
		x.bySHA[e.SHA256] = e
	}
	x.seq = uint64(len(order))
	x.mu.Unlock()
	x.log.Info("media index loaded", "from", from, "media", len(order), "commits_read", commits,
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

// thumb is a thumbnail file at head.
type thumb struct {
	path, sha string
	width     int
}

// dated is an entry with its distance from the head: within one second
// the newer commit sorts first. Entries from records have age 0.
type dated struct {
	e   *entry
	age int
}

// build reads the media at the history's head and describes them: from
// their records where there are, else by walking history for the
// commits that added them. It returns the entries in index order and the
// number of commits read.
func (x *Index) build(ctx context.Context, r *repo.Repo, hist *repo.History) ([]*entry, int, error) {
	present, thumbs, recs, err := x.listAndRead(ctx, hist)
	if err != nil {
		return nil, 0, err
	}
	found := map[string]dated{}
	for _, e := range recs {
		if e.Storage == record.StorageRepo {
			if _, ok := present[e.Path]; !ok {
				continue // the original is gone: so is the upload
			}
		}
		if _, dup := found[e.Path]; !dup {
			found[e.Path] = dated{e: e}
		}
	}
	rest := map[string]int64{}
	for p, blob := range present {
		if _, ok := found[p]; ok {
			continue
		}
		if rest[p], err = hist.Size(blob); err != nil {
			return nil, 0, err
		}
	}
	read, err := x.walk(ctx, hist, rest, found)
	if err != nil {
		return nil, read, err
	}
	return x.sorted(found, thumbs), read, nil
}

// sorted puts found in index order and gives them their thumbnails.
func (x *Index) sorted(found map[string]dated, thumbs []thumb) []*entry {
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
	return order
}

// listMedia returns the originals at head with their blobs, and the
// thumbnails.
func (x *Index) listMedia(ctx context.Context, hist *repo.History) (map[string]string, []thumb, error) {
	files, err := hist.Files(ctx, x.mediaDir)
	if err != nil {
		return nil, nil, err
	}
	present := map[string]string{}
	var thumbs []thumb
	for _, f := range files {
		ref, ok := x.ref(f.Path)
		switch {
		case !ok:
			continue
		case ref.Width > 0:
			thumbs = append(thumbs, thumb{f.Path, ref.SHA256, ref.Width})
		default:
			present[f.Path] = f.Blob
		}
	}
	return present, thumbs, nil
}

// walk dates the originals in present (path → size) from history, newest
// first, only until each is found, and adds them to found.
func (x *Index) walk(ctx context.Context, hist *repo.History, present map[string]int64, found map[string]dated) (int, error) {
	want := len(present)
	done := 0
	date := func(p string, c repo.CommitInfo, age int) {
		size, ok := present[p]
		if !ok {
			return
		}
		if _, ok := found[p]; ok {
			return
		}
		ref, _ := x.ref(p)
		e := newEntry(p, ref, c)
		e.Size, e.needSize = size, false // the tree is the truth
		found[p] = dated{e, age}
		done++
	}
	// The first pass believes upload commits' trailers. Should a file
	// stay undated (someone rewrote a commit by hand), the second pass
	// compares every commit's tree.
	read := 0
	var oldest time.Time
	for _, trust := range []bool{true, false} {
		if done == want {
			break
		}
		age := 0
		err := hist.Commits(ctx, func(info repo.CommitInfo) error {
			if done == want {
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
			return read, err
		}
	}
	for p := range present {
		// Added before the oldest commit this clone has (a shallow
		// clone): it sorts as the oldest, its commit unknown.
		date(p, repo.CommitInfo{Time: oldest}, math.MaxInt)
	}
	return read, nil
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
	sha := m.Value(record.TrailerSHA256)
	ext, ok := hashstore.ExtFor(m.Value(record.TrailerType))
	if !ok || !hashstore.IsHash(sha) {
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
