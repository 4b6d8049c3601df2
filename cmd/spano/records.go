package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"spano/index"
	"spano/record"
	"spano/repo"
)

// recordsCloseTimeout bounds the push Close makes of the records' commit
// when push is async.
const recordsCloseTimeout = time.Minute

// runRecords is "spano records": it gives the uploads made before
// site.records existed (or while it was off) their record files, all in
// one new commit on top of the branch — history is never rewritten — and
// pushes it as serve would. Each record is what the index knows of the
// upload: its commit's trailers, its size from the tree, an image's size
// from its header when the trailers lack it. Run twice, the second run
// finds nothing to do and commits nothing.
func runRecords(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset, configPath := newFlags("records", stderr)
	if err := fset.Parse(args); err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return fmt.Errorf("records: unexpected argument %q", fset.Arg(0))
	}
	cfg, _, err := commandConfig(*configPath)
	if err != nil {
		return err
	}
	if !cfg.Site.Records {
		return errors.New("records: site.records is off in the config: there is nowhere to write records")
	}
	if _, err := os.Stat(filepath.Join(cfg.Repo.Path, "HEAD")); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("records: no repository at %s (spano serve creates it)", cfg.Repo.Path)
	}
	tmp, err := os.MkdirTemp("", "spano-records-")
	if err != nil {
		return fmt.Errorf("records: %w", err)
	}
	defer os.RemoveAll(tmp)
	store, err := newStoreFromConfig(cfg, tmp)
	if err != nil {
		return fmt.Errorf("records: %w", err)
	}
	layout := newLayoutFromConfig(cfg, store)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	x := index.New(index.Options{Store: store, MediaDir: cfg.Media.Dir, Layout: layout, Logger: log})
	r, err := repo.Open(ctx, repoOptionsFromConfig(cfg, log, x.Apply))
	if err != nil {
		return fmt.Errorf("records: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordsCloseTimeout)
		defer cancel()
		r.Close(closeCtx)
	}()
	if err := x.Load(ctx, r); err != nil {
		return fmt.Errorf("records: %w", err)
	}
	change, n, err := recordsChange(ctx, r, x, layout, tmp, log)
	if err != nil {
		return fmt.Errorf("records: %w", err)
	}
	if n == 0 {
		fmt.Fprintln(stdout, "every upload has its record: nothing to commit")
		return nil
	}
	res, err := r.Commit(ctx, change)
	if err != nil && !errors.Is(err, repo.ErrPushFailed) {
		return fmt.Errorf("records: %w", err)
	}
	fmt.Fprintf(stdout, "added records for %d earlier uploads in commit %s\n", n, res.Commit)
	if err != nil {
		return fmt.Errorf("records: committed, but %w; serve pushes it later", err)
	}
	return nil
}

// recordsChange is the commit adding the records the branch lacks, and
// how many. An original whose record path holds a file that is not a
// good record is left alone and named on the log: the commit never
// overwrites a file.
func recordsChange(ctx context.Context, r *repo.Repo, x *index.Index, layout record.Layout, tmp string, log *slog.Logger) (repo.Change, int, error) {
	items, err := x.Unrecorded(ctx)
	if err != nil {
		return repo.Change{}, 0, err
	}
	var c repo.Change
	for i, it := range items {
		path := layout.RecordPath(it.SHA256)
		if _, err := r.Stat(ctx, path); err == nil {
			log.Warn("record file unreadable; left as it is", "path", path)
			continue
		} else if !errors.Is(err, repo.ErrNotFound) {
			return repo.Change{}, 0, err
		}
		rec := it.Record(layout)
		rec.Published = rec.Published.UTC()
		file := filepath.Join(tmp, fmt.Sprintf("record-%d.json", i))
		if err := os.WriteFile(file, rec.JSON(), 0o600); err != nil {
			return repo.Change{}, 0, err
		}
		c.Add = append(c.Add, repo.Blob{Path: path, File: file})
	}
	n := len(c.Add)
	c.Message = repo.Message{Subject: fmt.Sprintf("Add records for %d earlier uploads", n)}
	return c, n, nil
}
