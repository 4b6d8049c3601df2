package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"spano/gpsstrip"
	"spano/hooks"
	"spano/record"
	"spano/repo"
	"spano/thumbs"
)

// strip removes location metadata in place. The path follows the bytes:
// when they changed, the one read that stores them in the object store
// also hashes them again.
func (p *Pipeline) strip(ctx context.Context, u *upload) error {
	f := u.File
	u.path = p.opts.Store.Path(f.SHA256, f.Ext)
	if !p.opts.StripGPS {
		return nil
	}
	end := u.tr.Stage(StageStrip)
	changed, err := gpsstrip.Strip(ctx, f.Path, f.Type)
	if err != nil {
		return fmt.Errorf("strip gps: %w", err)
	}
	if changed {
		if toBucket, _ := p.opts.Rule.ToBucket(f.Size, f.Type); toBucket {
			// Bound for the bucket: its bytes never enter git.
			if err := f.Rehash(); err != nil {
				return fmt.Errorf("strip gps: %w", err)
			}
		} else {
			b, err := p.opts.Repo.WriteBlob(ctx, f.Path)
			if err != nil {
				return fmt.Errorf("store %s: %w", f.Type, err)
			}
			f.SHA256, f.Size, u.blob = b.SHA256, b.Size, &b
		}
		u.path = p.opts.Store.Path(f.SHA256, f.Ext)
	}
	end()
	return nil
}

// derivation is derive running in the background.
type derivation struct {
	done   chan error
	cancel context.CancelFunc
	end    func()
}

// derive checks an image and makes its thumbnails (Make decodes it only
// when a thumbnail needs its pixels), in the background: it needs only
// the final bytes, so it runs beside the duplicate check.
func (p *Pipeline) derive(ctx context.Context, u *upload) *derivation {
	ctx, cancel := context.WithCancel(ctx)
	d := &derivation{done: make(chan error, 1), cancel: cancel, end: func() {}}
	if !isVideo(u.File.Type) && (p.opts.Images == nil || !thumbs.IsImage(u.File.Type)) {
		d.done <- nil
		return d
	}
	d.end = u.tr.Stage(StageDerive)
	go func() {
		if isVideo(u.File.Type) {
			d.done <- p.deriveVideo(ctx, u)
			return
		}
		img, err := p.opts.Images.Make(ctx, u.File.Path, u.File.Type)
		u.img = img // read by the caller after wait, which orders it
		if err != nil {
			err = fmt.Errorf("make thumbnails: %w", err)
		}
		d.done <- err
	}()
	return d
}

// wait returns derive's outcome.
func (d *derivation) wait() error {
	err := <-d.done
	d.cancel()
	if err == nil {
		d.end()
	}
	return err
}

// stop ends derive early; its files are removed with the upload's.
func (d *derivation) stop() {
	d.cancel()
	<-d.done
}

// duplicate answers an upload whose bytes are already on the branch: the
// same URL, the record of the first upload, no new commit. The check is
// the repository writer's own (it checks again at commit time); bytes
// the index has never seen do not wait for the writer, which may be
// busy syncing a group, to say so.
func (p *Pipeline) duplicate(ctx context.Context, u *upload, d *derivation) (Result, bool, error) {
	if p.opts.Index != nil && p.opts.Index.Unknown(u.path, u.File.SHA256) {
		return Result{}, false, nil
	}
	res, dup, err := p.opts.Repo.Duplicate(ctx, u.path)
	if rp := p.opts.Layout.RecordPath(u.File.SHA256); !dup && err == nil && rp != "" && p.opts.Objects != nil {
		// An offloaded file is in the repository as its record only.
		res, dup, err = p.opts.Repo.Duplicate(ctx, rp)
	}
	if !dup {
		if err != nil {
			d.stop()
			return Result{}, false, fmt.Errorf("duplicate %s: %w", u.path, err)
		}
		return Result{}, false, nil
	}
	rec, ok := p.known(ctx, u.path)
	if !ok {
		// Stored, but the index cannot describe it (committed by hand,
		// or before spano wrote sizes): what derive finds does.
		if derr := d.wait(); derr != nil {
			return Result{}, true, derr
		}
		rec = p.draft(u)
		rec.Variants = nil
	} else {
		d.stop()
	}
	out := Result{Record: rec, Duplicate: true, Commit: res.Commit, Pushed: res.Pushed}
	if err != nil {
		return out, true, fmt.Errorf("duplicate %s: %w", u.path, err)
	}
	return out, true, nil
}

// known is the record of the upload already stored at path, from the
// index; ok is false when the index has no complete description.
func (p *Pipeline) known(ctx context.Context, path string) (record.Record, bool) {
	if p.opts.Index == nil {
		return record.Record{}, false
	}
	it, ok, err := p.opts.Index.Get(ctx, path)
	if err != nil || !ok || (thumbs.IsImage(it.Type) && it.Width == 0) {
		return record.Record{}, false
	}
	return it.Record(p.opts.Layout), true
}

// veto lets the owner's upload hooks refuse the file before it is stored.
func (p *Pipeline) veto(ctx context.Context, u *upload) error {
	if p.opts.Hooks == nil {
		return nil
	}
	end := u.tr.Stage(StageVeto)
	ev := hooks.EventOf(hooks.EventUpload, p.draft(u), "", p.opts.Now())
	ev.File = u.File.Path
	if err := p.opts.Hooks.Veto(ctx, ev); err != nil {
		return err
	}
	end()
	return nil
}

// draft is the record of the upload as it stands: everything but the
// time of its commit.
func (p *Pipeline) draft(u *upload) record.Record {
	f := u.File
	rec := record.Record{
		Path: u.path, SHA256: f.SHA256, Type: f.Type, Size: f.Size,
		Width: u.img.Width, Height: u.img.Height,
		Storage: record.StorageRepo, Filename: u.Filename, Client: u.Client,
		Variants: []record.Variant{},
	}
	if u.offloaded {
		rec.Storage = record.StorageS3
	}
	if u.source != nil {
		rec.SourceType, rec.SourceSHA256 = u.source.typ, u.source.sha256
	}
	rec.URL = p.opts.Layout.URL(rec.Path, rec.Storage)
	for _, t := range u.img.Thumbnails {
		path := p.opts.Store.ThumbnailPath(f.SHA256, t.Width, t.Ext)
		rec.Variants = append(rec.Variants, record.Variant{
			URL: p.opts.Layout.URL(path, record.StorageRepo), Path: path,
			Type: t.Type, Width: t.Width, Height: t.Height,
		})
	}
	p.withVideo(u, &rec)
	return rec
}

// place lays out the commit: the original, its variants and its record
// file, under the message that carries the record.
func (p *Pipeline) place(u *upload) (repo.Change, error) {
	u.rec = p.draft(u)
	u.rec.Published = p.opts.Now().UTC().Truncate(time.Second)
	c := repo.Change{Message: u.rec.Message()}
	if !u.offloaded {
		// The original first: the writer's duplicate check is on Add[0].
		orig := repo.Blob{Path: u.path, File: u.File.Path}
		if u.blob != nil {
			orig.Hash = u.blob.Hash
		}
		c.Add = append(c.Add, orig)
	}
	if p.opts.Records {
		c.Add = append(c.Add, repo.Blob{Path: p.opts.Layout.RecordPath(u.rec.SHA256), Data: u.rec.JSON()})
	} else if u.offloaded {
		return repo.Change{}, errors.New("place: an offloaded file needs site.records")
	}
	// Variants in the order draft listed them: the image's thumbnails,
	// then the poster's.
	variants := slices.Concat(u.img.Thumbnails, u.posterImg.Thumbnails)
	for i, t := range variants {
		c.Add = append(c.Add, repo.Blob{Path: u.rec.Variants[i].Path, Data: t.Data})
	}
	if u.poster != "" {
		c.Add = append(c.Add, repo.Blob{Path: p.posterPath(u.rec.SHA256, 0, "jpg"), File: u.poster})
	}
	return c, nil
}

// commit makes the upload's commit, durably, and tells the hooks. A push
// that failed in sync mode leaves the commit, which goes out later: the
// Result is returned with the error.
func (p *Pipeline) commit(ctx context.Context, u *upload, c repo.Change) (Result, error) {
	end := u.tr.Stage(StageCommit)
	res, err := p.opts.Repo.Commit(ctx, c)
	if err != nil && !errors.Is(err, repo.ErrPushFailed) {
		return Result{}, fmt.Errorf("commit %s: %w", u.path, err)
	}
	end()
	out := Result{Record: u.rec, Duplicate: res.Duplicate, Commit: res.Commit, Pushed: res.Pushed}
	if res.Duplicate {
		// Another upload of the same bytes won the race to the writer.
		if rec, ok := p.known(ctx, u.path); ok {
			out.Record = rec
		}
	} else if p.opts.Hooks != nil {
		p.opts.Hooks.Notify(hooks.EventOf(hooks.EventStored, u.rec, res.Commit, p.opts.Now()))
	}
	if err != nil {
		return out, fmt.Errorf("commit %s: %w", u.path, err)
	}
	return out, nil
}
