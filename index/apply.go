package index

import (
	"context"
	"errors"
	"time"

	"spano/hashstore"
	"spano/record"
	"spano/repo"
)

// statTimeout bounds the reads Apply makes for commits that arrived by
// fetch; it runs on the repository's pusher goroutine.
const statTimeout = 10 * time.Second

// Apply brings the index up to date with a repository notice; wire it
// into repo.Options.Notify. Commits made here (NoticeCommitted, on the
// writer goroutine before Commit returns, so a query sees an upload
// before its 201 is sent) are applied from their paths and trailers
// without any I/O. Commits that arrived by fetch (NoticeFetched) may come
// from a person's commit without trailers, and may have been followed by
// this spano's own re-applied commits, so the files they touch are
// looked up at head: the branch, not the order of notices, decides what
// exists. Pushed commits (NoticePushed) may have been re-applied onto a
// remote that moved, under new hashes: the items they added take those.
// Other notices are ignored.
func (x *Index) Apply(n repo.Notice) {
	if n.Kind == repo.NoticePushed {
		x.applyPushed(n.Commits)
		return
	}
	if n.Kind != repo.NoticeCommitted && n.Kind != repo.NoticeFetched {
		return
	}
	x.mu.Lock()
	if !x.loaded {
		x.queue = append(x.queue, n)
		x.mu.Unlock()
		return
	}
	x.mu.Unlock()
	x.apply(n)
}

// applyPushed gives the items that pushed commits added those commits'
// hashes, which re-applying onto a moved remote changed. It waits for
// Load like other notices do not need to: before Load, items have no
// commit to correct.
func (x *Index) applyPushed(commits []repo.CommitInfo) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, c := range commits {
		for _, p := range c.Added {
			if ref, ok := x.ref(p); ok && ref.Width == 0 {
				if e := x.byPath[p]; e != nil {
					e.Commit, e.needCommit = c.Hash, false
				}
			} else if sha, ok := x.layout.RecordHash(p); ok {
				if e := x.bySHA[sha]; e != nil && e.Storage == record.StorageS3 {
					e.Commit, e.needCommit = c.Hash, false
				}
			}
		}
	}
}

// fileState is what the branch head holds at a path.
type fileState struct {
	exists bool
	size   int64
}

func (x *Index) apply(n repo.Notice) {
	var head map[string]fileState
	if n.Kind == repo.NoticeFetched {
		head = x.lookAtHead(n.Commits)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, c := range n.Commits {
		x.applyCommit(c, head)
	}
}

// lookAtHead stats the originals that commits touched. A path that
// cannot be read for another reason than absence is left out, and the
// commits' own changes decide for it.
func (x *Index) lookAtHead(commits []repo.CommitInfo) map[string]fileState {
	x.mu.RLock()
	r := x.repo
	x.mu.RUnlock()
	out := map[string]fileState{}
	if r == nil {
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), statTimeout)
	defer cancel()
	for _, c := range commits {
		for _, paths := range [][]string{c.Added, c.Deleted} {
			for _, p := range paths {
				if _, done := out[p]; done {
					continue
				}
				if _, rec := x.layout.RecordHash(p); !rec {
					if ref, ok := x.ref(p); !ok || ref.Width > 0 {
						continue
					}
				}
				e, err := r.Stat(ctx, p)
				switch {
				case err == nil:
					out[p] = fileState{exists: true, size: e.Size}
				case errors.Is(err, repo.ErrNotFound):
					out[p] = fileState{}
				default:
					x.log.Warn("read fetched file", "path", p, "err", err)
				}
			}
		}
	}
	return out
}

// applyCommit applies c's deletions, then its additions: originals
// before records and records before thumbnails, so that a thumbnail
// finds its original (or the record of an offloaded one). head, when not
// nil, overrides the commit for the paths it holds. Locked.
func (x *Index) applyCommit(c repo.CommitInfo, head map[string]fileState) {
	x.seq++
	for _, p := range c.Deleted {
		ref, ok := x.ref(p)
		switch {
		case !ok:
		case ref.Width > 0:
			if e := x.bySHA[ref.SHA256]; e != nil {
				e.removeThumbnail(p)
			}
		default:
			if st, known := head[p]; known && st.exists {
				continue
			}
			x.remove(p)
		}
	}
	x.deleteRecords(c, head)
	for _, p := range c.Added {
		ref, ok := x.ref(p)
		if !ok || ref.Width > 0 {
			continue
		}
		st, known := head[p]
		if known && !st.exists {
			x.remove(p)
			continue
		}
		e := newEntry(p, ref, c)
		e.seq = x.seq
		if known {
			e.Size, e.needSize = st.size, false
		}
		if old := x.byPath[p]; old != nil {
			e.Thumbnails = old.Thumbnails
			e.hasRecord = old.hasRecord
			e.thumbHeights()
			x.remove(p)
		}
		x.insert(e)
	}
	x.addRecords(c, head)
	for _, p := range c.Added {
		if ref, ok := x.ref(p); ok && ref.Width > 0 {
			if e := x.bySHA[ref.SHA256]; e != nil {
				e.addThumbnail(p, ref.Width)
			}
		}
	}
}

// deleteRecords applies the record files c deleted: an offloaded upload
// has no original on the branch, so its record going is its delete.
// Locked.
func (x *Index) deleteRecords(c repo.CommitInfo, head map[string]fileState) {
	for _, p := range c.Deleted {
		sha, ok := x.layout.RecordHash(p)
		if !ok {
			continue
		}
		if st, known := head[p]; known && st.exists {
			continue
		}
		if e := x.bySHA[sha]; e != nil {
			e.hasRecord, e.needRecord = false, false
			if e.Storage == record.StorageS3 {
				x.remove(e.Path)
			}
		}
	}
}

// addRecords applies the record files c added. The record of an upload
// on the branch is read on its first query (for what trailers do not
// say: the poster); one with no original beside it is an offloaded
// upload, described by the commit's trailers. Locked.
func (x *Index) addRecords(c repo.CommitInfo, head map[string]fileState) {
	for _, p := range c.Added {
		sha, ok := x.layout.RecordHash(p)
		if !ok {
			continue
		}
		if st, known := head[p]; known && !st.exists {
			continue
		}
		if e := x.bySHA[sha]; e != nil {
			e.hasRecord, e.needRecord = true, true
			continue
		}
		rec, ok := record.FromMessage(c.Message)
		if !ok || rec.SHA256 != sha || rec.Storage != record.StorageS3 {
			continue
		}
		ext, ok := hashstore.ExtFor(rec.Type)
		if !ok {
			continue
		}
		path := x.store.Path(sha, ext)
		ref, ok := x.ref(path)
		if !ok {
			continue
		}
		e := newEntry(path, ref, c)
		e.seq = x.seq
		e.hasRecord, e.needRecord = true, true
		x.insert(e)
	}
}
