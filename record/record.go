// Package record is the one description of an upload. The same Record is
// written into the subject and trailers of the commit that adds the file
// and into the JSON record file beside it for the site's templates, and
// is read back from either by the media index, spano log, hook events and
// fsck, so the two can never disagree.
package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"spano/hashstore"
	"spano/repo"
)

// Storage says where an upload's bytes live.
const (
	StorageRepo = "repo" // in the site repository, beside its record
	StorageS3   = "s3"   // in object storage; the repository holds the record
)

// Trailer keys of an upload's commit, SPEC.md "Repository layout".
const (
	TrailerSHA256       = "Media-SHA256"
	TrailerType         = "Media-Type"
	TrailerSize         = "Media-Size"
	TrailerWidth        = "Media-Width"
	TrailerHeight       = "Media-Height"
	TrailerDuration     = "Media-Duration"
	TrailerStorage      = "Media-Storage"
	TrailerClient       = "Media-Client"
	TrailerFilename     = "Media-Filename"
	TrailerSourceType   = "Media-Source-Type"
	TrailerSourceSHA256 = "Media-Source-SHA256"
)

// Record describes one upload. Width and Height are as displayed (after
// EXIF orientation or a video track's rotation).
type Record struct {
	URL       string    `json:"url"`
	Path      string    `json:"path"` // the original's repository path (for s3: where it would be)
	SHA256    string    `json:"sha256"`
	Type      string    `json:"type"`
	Size      int64     `json:"size"`
	Width     int       `json:"width,omitempty"`
	Height    int       `json:"height,omitempty"`
	Published time.Time `json:"published"`
	Storage   string    `json:"storage"`
	Filename  string    `json:"filename,omitempty"`
	Client    string    `json:"client,omitempty"`
	Variants  []Variant `json:"variants"`
	Poster    string    `json:"poster,omitempty"`   // URL of a video's poster frame
	Duration  float64   `json:"duration,omitempty"` // seconds, for video and audio
	// SourceType and SourceSHA256 name what the client sent when spano
	// published something else (a HEIC published as JPEG).
	SourceType   string `json:"source_type,omitempty"`
	SourceSHA256 string `json:"source_sha256,omitempty"`
}

// Variant is a thumbnail or another rendition of the upload (a WebP or
// AVIF of a width, a video's poster).
type Variant struct {
	URL    string `json:"url"`
	Path   string `json:"path"` // repository path
	Type   string `json:"type"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

// ErrNotUpload: a commit or file that is not one of spano's records.
var ErrNotUpload = errors.New("not an upload record")

// Subject is the commit subject of the upload: "Add <12 hex>.<ext>
// (<filename>)". The filename is the client's, so it is only ever text.
func (r Record) Subject(verb string) string {
	s := verb + " " + r.SHA256[:min(12, len(r.SHA256))] + "." + ext(r.Path)
	if r.Filename != "" && verb == "Add" {
		s += " (" + r.Filename + ")"
	}
	return s
}

func ext(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return ""
}

// Trailers are the commit trailers that carry r, in SPEC.md's order.
func (r Record) Trailers() []repo.Trailer {
	t := []repo.Trailer{
		{Key: TrailerSHA256, Value: r.SHA256},
		{Key: TrailerType, Value: r.Type},
		{Key: TrailerSize, Value: strconv.FormatInt(r.Size, 10)},
	}
	add := func(k, v string) {
		if v != "" {
			t = append(t, repo.Trailer{Key: k, Value: v})
		}
	}
	if r.Width > 0 && r.Height > 0 {
		add(TrailerWidth, strconv.Itoa(r.Width))
		add(TrailerHeight, strconv.Itoa(r.Height))
	}
	if r.Duration > 0 {
		add(TrailerDuration, strconv.FormatFloat(r.Duration, 'f', -1, 64))
	}
	if r.Storage != "" && r.Storage != StorageRepo {
		add(TrailerStorage, r.Storage)
	}
	add(TrailerSourceType, r.SourceType)
	add(TrailerSourceSHA256, r.SourceSHA256)
	add(TrailerClient, r.Client)
	add(TrailerFilename, r.Filename)
	return t
}

// Message is the commit message adding the upload.
func (r Record) Message() repo.Message {
	return repo.Message{Subject: r.Subject("Add"), Trailers: r.Trailers()}
}

// DeleteMessage is the commit message removing it: "Delete <12
// hex>.<ext>" with the same trailers, so history says what went.
func (r Record) DeleteMessage() repo.Message {
	return repo.Message{Subject: r.Subject("Delete"), Trailers: r.Trailers()}
}

// FromMessage reads the facts of the upload that m's trailers describe:
// everything but the URL, path, time and variants, which come from the
// commit and the layout. ok is false when m carries no upload trailers.
func FromMessage(m repo.Message) (r Record, ok bool) {
	r.SHA256 = strings.ToLower(m.Value(TrailerSHA256))
	if r.SHA256 == "" {
		return Record{}, false
	}
	r.Type = m.Value(TrailerType)
	r.Size = -1
	if n, err := strconv.ParseInt(m.Value(TrailerSize), 10, 64); err == nil && n >= 0 {
		r.Size = n
	}
	w, werr := strconv.Atoi(m.Value(TrailerWidth))
	h, herr := strconv.Atoi(m.Value(TrailerHeight))
	if werr == nil && herr == nil && w > 0 && h > 0 {
		r.Width, r.Height = w, h
	}
	if d, err := strconv.ParseFloat(m.Value(TrailerDuration), 64); err == nil && d > 0 {
		r.Duration = d
	}
	r.Storage = StorageRepo
	if m.Value(TrailerStorage) == StorageS3 {
		r.Storage = StorageS3
	}
	r.SourceType = m.Value(TrailerSourceType)
	r.SourceSHA256 = m.Value(TrailerSourceSHA256)
	r.Client = m.Value(TrailerClient)
	r.Filename = m.Value(TrailerFilename)
	return r, true
}

// JSON is the record file's content: indented, so that a person reading
// the repository can read it too, and ending in a newline.
func (r Record) JSON() []byte {
	if r.Variants == nil {
		r.Variants = []Variant{}
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		// A Record holds only strings, numbers and a time: it cannot fail.
		panic(fmt.Sprintf("record: %v", err))
	}
	return append(b, '\n')
}

// Parse reads a record file, checking that it names an upload: a hash,
// a type, a path and a known storage.
func Parse(b []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, fmt.Errorf("parse record: %w", err)
	}
	if !hashstore.IsHash(r.SHA256) || r.Type == "" || r.Path == "" || (r.Storage != StorageRepo && r.Storage != StorageS3) {
		return Record{}, fmt.Errorf("parse record: %w", ErrNotUpload)
	}
	return r, nil
}
