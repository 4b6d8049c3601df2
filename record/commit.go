package record

import (
	"spano/hashstore"
	"spano/repo"
)

// FromCommit describes the original at path that commit c added (or
// deleted). The trailers are believed only when they name this file's
// hash — a commit made by hand may add several files, or carry no
// trailers at all — and then the type comes from the extension and the
// size is unknown (-1). ok is false when path is not an original in the
// media folder.
func FromCommit(c repo.CommitInfo, l Layout, path string) (Record, bool) {
	ref, err := l.Store.Parse(l.Store.URLPath(path))
	if err != nil || ref.Width > 0 {
		return Record{}, false
	}
	rec, ok := FromMessage(c.Message)
	if !ok || rec.SHA256 != ref.SHA256 {
		rec = Record{SHA256: ref.SHA256, Size: -1, Storage: StorageRepo}
	}
	if ext, known := hashstore.ExtFor(rec.Type); !known || ext != ref.Ext {
		rec.Type, _ = hashstore.TypeFor(ref.Ext)
	}
	rec.Path = path
	rec.Published = c.Time
	rec.URL = l.URL(path, rec.Storage)
	return rec, true
}

// Original finds the original among paths, a commit's added or deleted
// files: the one media path that is not a variant, or, for an offloaded
// upload (in the repository as its record only), the path its record
// file names by hash and the commit's trailers by type.
func Original(l Layout, c repo.CommitInfo, paths []string) string {
	for _, p := range paths {
		if ref, err := l.Store.Parse(l.Store.URLPath(p)); err == nil && ref.Width == 0 {
			return p
		}
	}
	for _, p := range paths {
		sha, ok := l.RecordHash(p)
		if !ok {
			continue
		}
		rec, ok := FromMessage(c.Message)
		ext, known := hashstore.ExtFor(rec.Type)
		if ok && known && rec.SHA256 == sha && rec.Storage == StorageS3 {
			return l.Store.Path(sha, ext)
		}
	}
	return ""
}
