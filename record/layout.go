package record

import (
	"path"
	"strings"

	"spano/hashstore"
)

// Layout places uploads: their repository paths (hashstore), their record
// files and the URLs they are published at. It is the one owner of the
// published URL.
type Layout struct {
	Store *hashstore.Store
	// DataDir is site.data_dir; records go to DataDir/spano/ab/cd/<hex>.json.
	// "" means no record files.
	DataDir string
	// SiteURL is site.url + media.url_path, without a trailing slash.
	SiteURL string
	// ObjectURL is storage.s3.public_url, without a trailing slash.
	ObjectURL string
}

// URL is the published URL of the media file at repoPath ("" for a path
// outside the media folder). An offloaded original is published from
// the bucket; its variants stay in the repository.
func (l Layout) URL(repoPath, storage string) string {
	rel := l.Store.URLPath(repoPath)
	if rel == "" {
		return ""
	}
	if storage == StorageS3 {
		return l.ObjectURL + "/" + rel
	}
	return l.SiteURL + "/" + rel
}

// ObjectKey is the bucket key of an offloaded original under prefix.
func (l Layout) ObjectKey(prefix, repoPath string) string {
	return path.Join(prefix, l.Store.URLPath(repoPath))
}

// RecordPath is the repository path of the record of the upload with
// hash sha256, "" when records are off.
func (l Layout) RecordPath(sha256 string) string {
	if l.DataDir == "" {
		return ""
	}
	return path.Join(l.DataDir, "spano") + "/" + l.Store.Shards(sha256) + sha256 + ".json"
}

// RecordDir is the folder that holds every record, "" when records are
// off.
func (l Layout) RecordDir() string {
	if l.DataDir == "" {
		return ""
	}
	return path.Join(l.DataDir, "spano")
}

// RecordHash returns the hash a record path names, if p is one.
func (l Layout) RecordHash(p string) (string, bool) {
	dir := l.RecordDir()
	if dir == "" {
		return "", false
	}
	rel, ok := strings.CutPrefix(p, dir+"/")
	if !ok {
		return "", false
	}
	sha, ok := strings.CutSuffix(path.Base(rel), ".json")
	if !ok || !hashstore.IsHash(sha) || rel != l.Store.Shards(sha)+sha+".json" {
		return "", false
	}
	return sha, true
}

// PathOf is the inverse of URL for originals: the repository path of the
// original that the published URL u names, from the site or the bucket.
func (l Layout) PathOf(u string) (string, bool) {
	rel, ok := strings.CutPrefix(u, l.SiteURL+"/")
	if !ok && l.ObjectURL != "" {
		rel, ok = strings.CutPrefix(u, l.ObjectURL+"/")
	}
	if !ok {
		return "", false
	}
	ref, err := l.Store.Parse(rel)
	if err != nil || ref.Width > 0 {
		return "", false
	}
	return l.Store.Path(ref.SHA256, ref.Ext), true
}
