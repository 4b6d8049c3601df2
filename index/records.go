package index

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"spano/record"
	"spano/repo"
)

// maxRecordSize bounds a record file read: spano writes a few hundred
// bytes; anything past this is not one of its records.
const maxRecordSize = 1 << 20

// readRecords describes the uploads whose record files are files: one
// blob read each, no history, half of them through each of the two views
// of the same head. A record that cannot be read is
// logged and left out, so its original, if present, is dated from
// history instead. The caller checks that originals kept in the
// repository are on the branch; an offloaded one's record is all there
// is.
func (x *Index) readRecords(ctx context.Context, views [2]*repo.History, files []repo.Entry) ([]*entry, error) {
	out := make([]*entry, len(files))
	half := len(files) / 2
	err := both(
		func() error { return x.readRecordRange(ctx, views[0], files[:half], out[:half]) },
		func() error { return x.readRecordRange(ctx, views[1], files[half:], out[half:]) })
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(out, func(e *entry) bool { return e == nil }), nil
}

// listAndRead lists the originals and thumbnails at hist's head (see
// listMedia) and reads the records there. With records, it uses two views
// of the head (a view is not safe for concurrent use): the media folder
// and the records are listed at once, then the records read half by each.
func (x *Index) listAndRead(ctx context.Context, hist *repo.History) (map[string]string, []thumb, []*entry, error) {
	dir := x.layout.RecordDir()
	if dir == "" || hist.Head() == "" {
		present, thumbs, err := x.listMedia(ctx, hist)
		return present, thumbs, nil, err
	}
	other := hist.Twin()
	defer other.Close()
	var present map[string]string
	var thumbs []thumb
	var files []repo.Entry
	err := both(
		func() (err error) { present, thumbs, err = x.listMedia(ctx, hist); return err },
		func() (err error) { files, err = other.Files(ctx, dir); return err })
	if err != nil {
		return nil, nil, nil, err
	}
	recs, err := x.readRecords(ctx, [2]*repo.History{hist, other}, files)
	if err != nil {
		return nil, nil, nil, err
	}
	return present, thumbs, recs, nil
}

// both runs f and g at once and returns their errors.
func both(f, g func() error) error {
	var gerr error
	var wg sync.WaitGroup
	wg.Go(func() { gerr = g() })
	ferr := f()
	wg.Wait()
	return errors.Join(ferr, gerr)
}

// readRecordRange reads the record files into out, nil for a bad one.
func (x *Index) readRecordRange(ctx context.Context, h *repo.History, files []repo.Entry, out []*entry) error {
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		out[i] = x.readRecordBlob(h, f)
	}
	return nil
}

// readRecordBlob reads the record file f, nil when it is not a good one.
func (x *Index) readRecordBlob(h *repo.History, f repo.Entry) *entry {
	sha, ok := x.layout.RecordHash(f.Path)
	if !ok {
		return nil
	}
	b, err := h.Read(f.Blob, maxRecordSize)
	if err == nil {
		var e *entry
		if e, err = x.recordEntry(f.Path, sha, b); err == nil {
			return e
		}
	}
	x.log.Warn("read record", "path", f.Path, "err", err)
	return nil
}

// errBadRecord: a record file that does not describe the upload its
// path names.
var errBadRecord = errors.New("record does not match its path")

// recordEntry parses the record file at path (named for hash sha).
func (x *Index) recordEntry(path, sha string, b []byte) (*entry, error) {
	rec, err := record.Parse(b)
	if err != nil {
		return nil, err
	}
	ref, ok := x.ref(rec.Path)
	if rec.SHA256 != sha || !ok || ref.Width > 0 || ref.SHA256 != sha {
		return nil, fmt.Errorf("%s names %s: %w", path, rec.Path, errBadRecord)
	}
	return recordEntry(rec, ref), nil
}

// readRecord reads the record of e's upload at head, for merge.
func (x *Index) readRecord(ctx context.Context, r *repo.Repo, sha string) (record.Record, error) {
	f, _, err := r.Open(ctx, x.layout.RecordPath(sha))
	if err != nil {
		return record.Record{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRecordSize))
	if err != nil {
		return record.Record{}, fmt.Errorf("read record %s: %w", sha, err)
	}
	return record.Parse(b)
}

// findCommits learns the commits that added entries loaded from their
// records. It walks history from the head, reading messages only (and
// comparing trees only for commits spano did not make), until each of
// need is found, and notes on the way every upload commit it passes, so
// the next page's walk finds its items among them. A query for the
// newest page reads about as many commits as the page has items; a walk
// that reaches the end marks what it did not find as unknown for good.
func (x *Index) findCommits(ctx context.Context, r *repo.Repo, need []*entry) error {
	x.walkMu.Lock()
	defer x.walkMu.Unlock()
	wanted := map[string]bool{}
	x.mu.RLock()
	for _, e := range need {
		if e.needCommit {
			wanted[e.Path] = true
		}
	}
	x.mu.RUnlock()
	if len(wanted) == 0 {
		return nil
	}
	hist, err := r.History(ctx)
	if err != nil {
		return fmt.Errorf("find commits: %w", err)
	}
	defer hist.Close()
	seen := map[string]string{} // path → newest commit adding it
	note := func(p, hash string) {
		if _, ok := seen[p]; !ok {
			seen[p] = hash
			delete(wanted, p)
		}
	}
	err = hist.Commits(ctx, func(c repo.CommitInfo) error {
		switch kind, p := x.uploadCommit(c.Message); kind {
		case kindAdd:
			note(p, c.Hash)
		case kindDelete:
			if _, ok := seen[p]; !ok {
				seen[p] = "" // deleted after: an older add is not the one
			}
		default:
			added, _, err := hist.Changes(c.Hash, x.mediaDir)
			if err != nil {
				return err
			}
			for _, p := range added {
				note(p, c.Hash)
			}
		}
		if len(wanted) == 0 {
			return repo.ErrStopWalk
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("find commits: %w", err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for p, hash := range seen {
		if e := x.byPath[p]; e != nil && e.needCommit && hash != "" {
			e.Commit, e.needCommit = hash, false
		}
	}
	for p := range wanted { // the walk reached the end
		if e := x.byPath[p]; e != nil {
			e.needCommit = false
		}
	}
	return nil
}

// Unrecorded returns the originals on the branch whose record file is
// not, oldest first, with their sizes and image sizes read: what `spano
// records` writes records for. With records off it returns none.
func (x *Index) Unrecorded(ctx context.Context) ([]Item, error) {
	if x.layout.RecordDir() == "" {
		return nil, nil
	}
	var items []Item
	var entries []*entry
	x.mu.RLock()
	for _, e := range x.order {
		if !e.hasRecord {
			items = append(items, e.snapshot())
			entries = append(entries, e)
		}
	}
	x.mu.RUnlock()
	if err := x.complete(ctx, items, entries); err != nil {
		return nil, err
	}
	return items, nil
}
