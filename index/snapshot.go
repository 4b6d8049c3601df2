package index

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"spano/internal/atomicfile"
	"spano/repo"
)

// A snapshot is the index written to a file, so that a restart reads one
// file instead of every record (or history). It is a cache and nothing
// more: it names the trees of the media and record folders it describes,
// and Load believes it only when the branch has those same trees, so any
// file added or removed since, by anyone, means the index is built again
// (and the snapshot rewritten). Commits are not kept: a rebase onto a
// moved remote changes them without changing a file, so they are found
// again on the first query, as for items loaded from records.
//
// It is written where its contents are certain to match the trees: right
// after Load built the index from a view of the branch, and by Save once
// the repository is closed (all notices delivered).

// snapshotVersion changes whenever what a snapshot holds does.
const snapshotVersion = 1

type snapshotFile struct {
	Version int
	// Layout is where a file and a record of one hash go, so a snapshot
	// made with other media or record folders, or other shards, is not
	// believed.
	Layout         string
	Media, Records string // tree hashes of the media and record folders
	Entries        []snapshotEntry
}

type snapshotEntry struct {
	Item
	NeedSize, NeedDims, NeedRecord, HasRecord bool
}

// layoutKey names the layout the index reads paths in.
func (x *Index) layoutKey() string {
	zero := strings.Repeat("0", 64)
	return fmt.Sprintf("%s %s %s", x.mediaDir, x.store.Path(zero, "jpg"), x.layout.RecordPath(zero))
}

// trees returns the tree hashes of the media and record folders at
// hist's head.
func (x *Index) trees(hist *repo.History) (media, recds string, err error) {
	if media, err = hist.Tree(x.mediaDir); err != nil {
		return "", "", err
	}
	if dir := x.layout.RecordDir(); dir != "" {
		recds, err = hist.Tree(dir)
	}
	return media, recds, err
}

// readSnapshot returns the entries of the snapshot at x.snapshot, in
// index order, when it describes exactly these trees; nil otherwise.
func (x *Index) readSnapshot(media, recds string) []*entry {
	if x.snapshot == "" {
		return nil
	}
	b, err := os.ReadFile(x.snapshot)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			x.log.Warn("index snapshot unreadable: building the index", "path", x.snapshot, "err", err)
		}
		return nil
	}
	var f snapshotFile
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&f); err != nil {
		x.log.Warn("index snapshot unreadable: building the index", "path", x.snapshot, "err", err)
		return nil
	}
	if f.Version != snapshotVersion || f.Layout != x.layoutKey() || f.Media != media || f.Records != recds {
		x.log.Info("index snapshot is of other files: building the index", "path", x.snapshot)
		return nil
	}
	order := make([]*entry, len(f.Entries))
	for i, s := range f.Entries {
		e := &entry{Item: s.Item, seq: uint64(i + 1), needSize: s.NeedSize, needDims: s.NeedDims,
			needRecord: s.NeedRecord, hasRecord: s.HasRecord, needCommit: true}
		order[i] = e
	}
	return order
}

// writeSnapshot writes order, which describes these trees, to x.snapshot.
// Locked by the caller if order is the index's own.
func (x *Index) writeSnapshot(order []*entry, media, recds string) error {
	if x.snapshot == "" {
		return nil
	}
	if x.snapshot == "" {
		return nil
	}
	f := snapshotFile{Version: snapshotVersion, Layout: x.layoutKey(), Media: media, Records: recds,
		Entries: make([]snapshotEntry, len(order))}
	for i, e := range order {
		f.Entries[i] = snapshotEntry{Item: e.Item, NeedSize: e.needSize, NeedDims: e.needDims,
			NeedRecord: e.needRecord, HasRecord: e.hasRecord}
		f.Entries[i].Commit = ""
	}
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(&f); err != nil {
		return fmt.Errorf("index snapshot: %w", err)
	}
	if err := atomicfile.Write(x.snapshot, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("index snapshot: %w", err)
	}
	return nil
}

// Save writes the index's snapshot for the next start. Call it after the
// repository is closed, so that no notice is still to come and the
// branch's trees are the ones the index describes. Without a snapshot
// path (Options.Snapshot) it does nothing.
func (x *Index) Save(ctx context.Context, r *repo.Repo) error {
	if x.snapshot == "" {
		return nil
	}
	hist, err := r.History(ctx)
	if err != nil {
		return fmt.Errorf("index snapshot: %w", err)
	}
	defer hist.Close()
	media, recds, err := x.trees(hist)
	if err != nil {
		return fmt.Errorf("index snapshot: %w", err)
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if !x.loaded {
		return nil // nothing worth keeping
	}
	return x.writeSnapshot(x.order, media, recds)
}
