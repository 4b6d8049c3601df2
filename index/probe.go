package index

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"io"

	// Decoders for image.DecodeConfig: only headers are read.
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"

	_ "golang.org/x/image/webp"

	"spano/record"
	"spano/repo"
	"spano/thumbs"
)

// complete fills in, for items[i] of entries[i], the facts no trailer
// gave: the size of a file committed without Media-Size, the width and
// height of an image committed without Media-Width and Media-Height (by a
// person, or by an older spano), the poster its record file names, and,
// for an item loaded from its record, the commit that added it. They are
// read from the repository on the first query that returns the item and
// kept, so start-up never opens a media file nor walks history.
func (x *Index) complete(ctx context.Context, items []Item, entries []*entry) error {
	x.mu.RLock()
	r := x.repo
	var todo []int
	var commits []*entry
	for i, e := range entries {
		if e.needSize || e.needDims || e.needRecord {
			todo = append(todo, i)
		}
		if e.needCommit {
			commits = append(commits, e)
		}
	}
	x.mu.RUnlock()
	if r == nil {
		return nil
	}
	if len(commits) > 0 {
		if err := x.findCommits(ctx, r, commits); err != nil {
			if err := ctx.Err(); err != nil {
				return err
			}
			x.log.Warn("find the commits of media", "err", err)
		}
		x.mu.RLock()
		for i, e := range entries {
			if x.byPath[items[i].Path] == e {
				items[i] = e.snapshot()
			}
		}
		x.mu.RUnlock()
	}
	for _, i := range todo {
		if err := x.completeOne(ctx, r, items, entries, i); err != nil {
			return err
		}
	}
	return nil
}

// completeOne reads what entries[i] lacks and refreshes items[i].
func (x *Index) completeOne(ctx context.Context, r *repo.Repo, items []Item, entries []*entry, i int) error {
	e := entries[i]
	var (
		size      int64 = -1
		w, h      int
		triedDims bool
		rec       record.Record
		recErr    error
	)
	it := items[i]
	x.mu.RLock()
	needSize, needDims, needRecord := e.needSize, e.needDims, e.needRecord
	x.mu.RUnlock()
	if needRecord {
		rec, recErr = x.readRecord(ctx, r, it.SHA256)
		if err := ctx.Err(); err != nil {
			return err
		}
		if recErr != nil {
			x.log.Warn("read record", "sha256", it.SHA256, "err", recErr)
		} else if rec.Width > 0 && rec.Height > 0 {
			needDims = false
		}
	}
	if needSize {
		st, err := r.Stat(ctx, it.Path)
		if err := ctx.Err(); err != nil {
			return err
		}
		if err == nil {
			size = st.Size
		} else {
			x.log.Warn("read size", "path", it.Path, "err", err)
		}
	}
	if needDims {
		var err error
		w, h, err = probe(ctx, r, it.Path)
		if err := ctx.Err(); err != nil {
			return err
		}
		if err != nil {
			x.log.Warn("read image size", "path", it.Path, "err", err)
		}
		triedDims = true
	}

	x.mu.Lock()
	defer x.mu.Unlock()
	if x.byPath[it.Path] != e {
		return nil
	}
	if needRecord {
		// A record that cannot be read is not read again.
		e.needRecord = false
		if recErr == nil {
			e.merge(rec)
		}
	}
	if size >= 0 {
		e.Size, e.needSize = size, false
	}
	if triedDims {
		// A header that cannot be read is not read again.
		e.needDims = false
		if w > 0 && h > 0 {
			e.Width, e.Height = w, h
			e.thumbHeights()
		}
	}
	items[i] = e.snapshot()
	return nil
}

// probe reads the displayed width and height of the image at path from
// its header: a JPEG whose EXIF orientation turns it a quarter is shown
// with width and height swapped, as spano's Media-Width and Media-Height
// say for the images it stores.
func probe(ctx context.Context, r *repo.Repo, path string) (int, int, error) {
	f, _, err := r.Open(ctx, path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(bufio.NewReader(f))
	if err != nil {
		return 0, 0, fmt.Errorf("decode header: %w", err)
	}
	if format == "jpeg" {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return 0, 0, err
		}
		if thumbs.Transposes(thumbs.JPEGOrientation(bufio.NewReader(f))) {
			return cfg.Height, cfg.Width, nil
		}
	}
	return cfg.Width, cfg.Height, nil
}
