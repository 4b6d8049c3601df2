package hashstore

import (
	"fmt"
	"strconv"
	"strings"
)

// maxThumbWidth bounds the W in "-<W>w": wider than any image we decode
// (JPEG's limit is 65535), and it keeps Parse's numbers small.
const maxThumbWidth = 65535

// Path returns the repository path of an original:
// "media/ab/cd/<sha256>.<ext>" (slash-separated, relative to the
// repository root). sha256 must be a 64-character lowercase hex hash, as in
// File.SHA256 or Ref.SHA256; anything else is a programming error and
// panics, because a malformed name would break the content addressing.
func (s *Store) Path(sha256, ext string) string {
	return s.join(s.shards(sha256) + sha256 + "." + ext)
}

// ThumbnailPath returns the repository path of a thumbnail of width
// pixels, beside its original: "media/ab/cd/<sha256>-320w.jpg". sha256 is
// the original's hash; ext the thumbnail's own extension.
func (s *Store) ThumbnailPath(sha256 string, width int, ext string) string {
	return s.join(s.shards(sha256) + sha256 + "-" + strconv.Itoa(width) + "w." + ext)
}

// VariantPath returns the repository path of another rendition beside
// the original: "media/ab/cd/<sha256>-<name>.<ext>", such as a video's
// poster ("poster") or the poster's thumbnails ("poster-320w").
func (s *Store) VariantPath(sha256, name, ext string) string {
	return s.join(s.shards(sha256) + sha256 + "-" + name + "." + ext)
}

// Shards returns the shard folders of a hash with a trailing slash
// ("ab/cd/"), or "" at depth 0: the same folders wherever the layout is
// used (the media folder, the records, the bucket).
func (s *Store) Shards(sha256 string) string { return s.shards(sha256) }

// URLPath returns repoPath relative to the media folder ("ab/cd/<sha>.jpg"),
// the part that follows media.url_path in a published URL. It returns ""
// for a path outside the media folder.
func (s *Store) URLPath(repoPath string) string {
	if s.mediaDir == "" {
		return repoPath
	}
	rel, ok := strings.CutPrefix(repoPath, s.mediaDir+"/")
	if !ok {
		return ""
	}
	return rel
}

// join puts rel below the media folder.
func (s *Store) join(rel string) string {
	if s.mediaDir == "" {
		return rel
	}
	return s.mediaDir + "/" + rel
}

// shards returns the shard folders of a hash with a trailing slash
// ("ab/cd/"), or "" at depth 0.
func (s *Store) shards(sha256 string) string {
	if !IsHash(sha256) {
		panic(fmt.Sprintf("hashstore: %.80q is not a lowercase hex SHA-256", sha256))
	}
	var b strings.Builder
	for i := range s.depth {
		b.WriteString(sha256[i*s.width : (i+1)*s.width])
		b.WriteByte('/')
	}
	return b.String()
}

// Ref names a stored file: an original (Width 0) or one of its thumbnails.
type Ref struct {
	SHA256 string // the original's hash, 64 lowercase hex
	Ext    string // the file's extension: the original's, or the thumbnail's
	Width  int    // thumbnail width in pixels; 0 for the original
}

// Parse reads a path relative to the media folder (and so to
// media.url_path), "ab/cd/<sha256>.<ext>" or "ab/cd/<sha256>-<W>w.<ext>",
// and returns what it names. It accepts exactly the names Path and
// ThumbnailPath produce and nothing else, because its input comes from
// URLs: any other spelling (uppercase, "..", doubled or leading slashes,
// shards that do not match the hash, unknown extensions, "-0320w") is
// ErrBadPath. Thumbnails are JPEG or PNG only.
func (s *Store) Parse(rel string) (Ref, error) {
	bad := func(why string) (Ref, error) {
		return Ref{}, fmt.Errorf("parse %.100q: %s: %w", rel, why, ErrBadPath)
	}
	parts := strings.Split(rel, "/")
	if len(parts) != s.depth+1 {
		return bad(fmt.Sprintf("want %d shard folders", s.depth))
	}
	name := parts[s.depth]
	stem, ext, ok := strings.Cut(name, ".")
	if !ok {
		return bad("no extension")
	}
	if _, ok := TypeFor(ext); !ok {
		return bad("unknown extension")
	}
	hash, width, thumb := strings.Cut(stem, "-")
	if !IsHash(hash) {
		return bad("not a lowercase hex SHA-256")
	}
	ref := Ref{SHA256: hash, Ext: ext}
	if thumb {
		w, err := parseWidth(width)
		if err != nil {
			return bad(err.Error())
		}
		if ext != "jpg" && ext != "png" {
			return bad("thumbnails are jpg or png")
		}
		ref.Width = w
	}
	for i := range s.depth {
		if parts[i] != hash[i*s.width:(i+1)*s.width] {
			return bad("shard does not match the hash")
		}
	}
	return ref, nil
}

// parseWidth reads "<W>w" with W in 1..maxThumbWidth written without
// leading zeros or signs, so each width has exactly one name.
func parseWidth(s string) (int, error) {
	digits, ok := strings.CutSuffix(s, "w")
	if !ok || digits == "" || len(digits) > len(strconv.Itoa(maxThumbWidth)) {
		return 0, fmt.Errorf("bad thumbnail width %.20q", s)
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, fmt.Errorf("bad thumbnail width %.20q", s)
		}
	}
	if digits[0] == '0' {
		return 0, fmt.Errorf("thumbnail width %.20q has a leading zero", s)
	}
	w, err := strconv.Atoi(digits)
	if err != nil || w > maxThumbWidth {
		return 0, fmt.Errorf("thumbnail width %.20q out of range", s)
	}
	return w, nil
}

// IsHash reports whether s is a SHA-256 as spano writes it: 64 lowercase
// hex characters. The one check, for paths, records and object keys.
func IsHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
