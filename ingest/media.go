package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"spano/hashstore"
	"spano/objstore"
	"spano/record"
	"spano/video"
)

// ErrNoConverter refuses a HEIC or HEIF when no converter is configured:
// stored as it came it would be a file most browsers cannot show.
var ErrNoConverter = errors.New("HEIC and HEIF uploads need the converter")

// source is what the client sent when spano publishes something else.
type source struct {
	typ, sha256 string
}

// convert publishes a HEIC or HEIF as the JPEG made from it: the upload
// goes on as that JPEG, and the record names what was sent. The same
// HEIC gives the same JPEG on the same build, so a re-upload is a
// duplicate.
func (p *Pipeline) convert(ctx context.Context, u *upload) error {
	f := u.File
	if !hashstore.Converted(f.Type) {
		return nil
	}
	if p.opts.Converter == nil {
		return fmt.Errorf("convert %s: %w", f.Type, ErrNoConverter)
	}
	end := u.tr.Stage(StageConvert)
	res, err := p.opts.Converter.Convert(ctx, f.Path, p.opts.TempDir)
	if err != nil {
		return fmt.Errorf("convert %s: %w", f.Type, err)
	}
	u.temp = append(u.temp, res.Path)
	u.source = &source{typ: f.Type, sha256: f.SHA256}
	u.File = &hashstore.File{Path: res.Path, SHA256: res.SHA256, Size: res.Size,
		Type: hashstore.PublishedType(f.Type), Ext: f.Ext}
	end()
	return nil
}

// deriveVideo reads a video's facts from its container and, when ffmpeg
// runs, makes its poster frame and the poster's thumbnails. A container
// spano cannot read is stored without facts; a failed poster leaves the
// video without one. Neither refuses the upload.
func (p *Pipeline) deriveVideo(ctx context.Context, u *upload) error {
	f := u.File
	facts, err := video.Probe(ctx, f.Path, f.Type)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.log.Warn("video facts unreadable; stored without them", "sha256", f.SHA256, "type", f.Type, "err", err)
		return nil
	}
	u.video = facts
	if p.opts.Video.FFmpeg == "" {
		return nil
	}
	poster, err := video.Poster(ctx, p.opts.Video, f.Path, p.opts.TempDir, facts.Duration)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.log.Warn("no poster frame", "sha256", f.SHA256, "err", err)
		return nil
	}
	u.poster = poster
	if p.opts.Images != nil {
		img, err := p.opts.Images.Make(ctx, poster, "image/jpeg")
		if err != nil {
			p.log.Warn("no thumbnails of the poster frame", "sha256", f.SHA256, "err", err)
			return nil
		}
		u.posterImg = img
	}
	return nil
}

// posterPath is the repository path of the poster frame, and of its
// thumbnail of width w (w > 0).
func (p *Pipeline) posterPath(sha256 string, w int, ext string) string {
	if w == 0 {
		return p.opts.Store.VariantPath(sha256, "poster", ext)
	}
	return p.opts.Store.VariantPath(sha256, "poster-"+strconv.Itoa(w)+"w", ext)
}

// withVideo adds what deriveVideo found to rec.
func (p *Pipeline) withVideo(u *upload, rec *record.Record) {
	if u.video.Width > 0 && u.video.Height > 0 {
		rec.Width, rec.Height = u.video.Width, u.video.Height
	}
	rec.Duration = u.video.Duration
	if u.poster == "" {
		return
	}
	rec.Poster = p.opts.Layout.URL(p.posterPath(rec.SHA256, 0, "jpg"), record.StorageRepo)
	for _, t := range u.posterImg.Thumbnails {
		path := p.posterPath(rec.SHA256, t.Width, t.Ext)
		rec.Variants = append(rec.Variants, record.Variant{
			URL: p.opts.Layout.URL(path, record.StorageRepo), Path: path,
			Type: t.Type, Width: t.Width, Height: t.Height,
		})
	}
}

// offload streams a file that storage.offload selects to the bucket,
// before the commit that records it: an object left by a crash between
// the two is harmless (fsck lists it), a commit naming a missing object
// would not be.
func (p *Pipeline) offload(ctx context.Context, u *upload) error {
	f := u.File
	toBucket, err := p.opts.Rule.ToBucket(f.Size, f.Type)
	if err != nil || !toBucket {
		return err
	}
	if p.opts.Objects == nil {
		return errors.New("offload: object storage is not configured")
	}
	end := u.tr.Stage(StageOffload)
	_, err = p.opts.Objects.Put(ctx, objstore.Object{SHA256: f.SHA256, Ext: f.Ext, Size: f.Size, ContentType: f.Type}, f.Path)
	if err != nil {
		return fmt.Errorf("offload %s: %w", u.path, err)
	}
	u.offloaded = true
	end()
	return nil
}

// cleanupMedia removes what the media stages made.
func (u *upload) cleanupMedia() {
	if u.poster != "" {
		os.Remove(u.poster)
	}
}

// isVideo reports whether t is a type whose container package video reads.
func isVideo(t string) bool {
	switch t {
	case "video/mp4", "video/quicktime", "video/webm":
		return true
	}
	return false
}
