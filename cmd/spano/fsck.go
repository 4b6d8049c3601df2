package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strings"

	"spano/config"
	"spano/hashstore"
	"spano/objstore"
	"spano/record"
)

// runFsck is "spano fsck": every file under media.dir on the branch has
// a well-formed content-addressed path, every original's bytes hash to
// its name, and every thumbnail has its original. Problems are listed on
// stdout, one per line, and make the command fail.
func runFsck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset, configPath := newFlags("fsck", stderr)
	deep := fset.Bool("deep", false, "download every offloaded object and hash it (default: compare its size and recorded hash)")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return fmt.Errorf("fsck: unexpected argument %q", fset.Arg(0))
	}
	cfg, _, err := commandConfig(*configPath)
	if err != nil {
		return err
	}
	site, err := openSite(ctx, cfg)
	if err != nil {
		return fmt.Errorf("fsck: %w", err)
	}
	defer site.Close()

	files, err := site.repo.List(ctx, cfg.Media.Dir)
	if err != nil {
		return fmt.Errorf("fsck: %w", err)
	}
	problems := 0
	report := func(path, format string, args ...any) {
		problems++
		fmt.Fprintf(stdout, "%s: %s\n", path, fmt.Sprintf(format, args...))
	}
	originals := map[string]bool{}
	var thumbs []hashstore.Ref
	var thumbPaths []string
	checked := 0
	for _, f := range files {
		ref, err := site.store.Parse(site.store.URLPath(f.Path))
		if err != nil {
			if poster, ok := posterRef(site.store, f.Path); ok {
				thumbs = append(thumbs, poster)
				thumbPaths = append(thumbPaths, f.Path)
				continue
			}
			report(f.Path, "not a content-addressed media path")
			continue
		}
		if ref.Width > 0 {
			thumbs = append(thumbs, ref)
			thumbPaths = append(thumbPaths, f.Path)
			continue
		}
		originals[ref.SHA256] = true
		sum, err := hashFile(ctx, site, f.Path)
		if err != nil {
			return fmt.Errorf("fsck: %w", err)
		}
		checked++
		if sum != ref.SHA256 {
			report(f.Path, "content hashes to %s", sum)
		}
	}
	recs, err := checkRecords(ctx, cfg, site, originals, report)
	if err != nil {
		return fmt.Errorf("fsck: %w", err)
	}
	for i, ref := range thumbs {
		if !originals[ref.SHA256] && recs.offloaded[ref.SHA256] == nil {
			report(thumbPaths[i], "thumbnail without its original")
		}
	}
	if err := checkObjects(ctx, cfg, recs, *deep, stdout, report); err != nil {
		return fmt.Errorf("fsck: %w", err)
	}
	fmt.Fprintf(stdout, "checked %d originals, %d thumbnails and %d records under %s, %d offloaded objects: %d problems\n",
		checked, len(thumbs), recs.count, cfg.Media.Dir, len(recs.offloaded), problems)
	if problems > 0 {
		return fmt.Errorf("fsck: %d problems", problems)
	}
	return nil
}

// posterRef reads the path of a video's poster frame,
// "<hash>-poster.jpg", or of one of its thumbnails, "<hash>-poster-<W>w.jpg":
// renditions that, like thumbnails, need their original. Only the exact
// paths the pipeline writes are accepted.
func posterRef(store *hashstore.Store, p string) (hashstore.Ref, bool) {
	dir, name := path.Split(store.URLPath(p))
	hash, rest, ok := strings.Cut(name, "-poster")
	if !ok {
		return hashstore.Ref{}, false
	}
	ref, err := store.Parse(dir + hash + rest)
	if err != nil || ref.Ext != "jpg" {
		return hashstore.Ref{}, false
	}
	want := store.VariantPath(ref.SHA256, "poster", "jpg")
	if ref.Width > 0 {
		want = store.VariantPath(ref.SHA256, fmt.Sprintf("poster-%dw", ref.Width), "jpg")
	}
	return ref, want == p
}

// hashFile streams the committed file at path through SHA-256.
func hashFile(ctx context.Context, site *siteRepo, path string) (string, error) {
	rc, _, err := site.repo.Open(ctx, path)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// records is what checkRecords read: the offloaded uploads by hash.
type records struct {
	count     int
	offloaded map[string]*record.Record
}

// checkRecords reads every record file: each must parse, name its own
// path, and have its original (in the repository, or in the bucket for
// an offloaded one, checked by checkObjects).
func checkRecords(ctx context.Context, cfg config.Config, site *siteRepo, originals map[string]bool, report func(path, format string, args ...any)) (records, error) {
	out := records{offloaded: map[string]*record.Record{}}
	dir := site.layout.RecordDir()
	if dir == "" {
		return out, nil
	}
	files, err := site.repo.List(ctx, dir)
	if err != nil {
		return out, err
	}
	for _, f := range files {
		sha, ok := site.layout.RecordHash(f.Path)
		if !ok {
			report(f.Path, "not a record path")
			continue
		}
		b, err := readFile(ctx, site, f.Path, 1<<20)
		if err != nil {
			return out, err
		}
		rec, err := record.Parse(b)
		switch {
		case err != nil:
			report(f.Path, "%v", err)
			continue
		case rec.SHA256 != sha:
			report(f.Path, "record names %s", rec.SHA256)
			continue
		}
		out.count++
		switch rec.Storage {
		case record.StorageS3:
			out.offloaded[sha] = &rec
		default:
			if !originals[sha] {
				report(f.Path, "record without its original %s", rec.Path)
			}
		}
	}
	return out, nil
}

// checkObjects checks every offloaded upload's object (it exists, with
// its size and hash; -deep downloads it) and lists the bucket's objects
// that no record names: orphans, harmless (a crash between the object
// and its commit leaves one), listed and never deleted.
func checkObjects(ctx context.Context, cfg config.Config, recs records, deep bool, stdout io.Writer, report func(path, format string, args ...any)) error {
	log := slog.New(slog.DiscardHandler)
	objects, err := newObjectsFromConfig(cfg, log)
	if err != nil || objects == nil {
		if len(recs.offloaded) > 0 && objects == nil {
			for sha, rec := range recs.offloaded {
				report(rec.Path, "offloaded (%s), but storage.s3 is not configured to check it", sha[:12])
			}
		}
		return err
	}
	for _, rec := range recs.offloaded {
		ext := strings.TrimPrefix(path.Ext(rec.Path), ".")
		obj := objstore.Object{SHA256: rec.SHA256, Ext: ext, Size: rec.Size, ContentType: rec.Type}
		switch err := objects.Verify(ctx, obj, deep); {
		case err == nil:
		case errors.Is(err, objstore.ErrNotFound):
			report(objects.Key(rec.SHA256, ext), "object missing (offloaded upload %s)", rec.URL)
		case errors.Is(err, objstore.ErrMismatch):
			report(objects.Key(rec.SHA256, ext), "%v", err)
		default:
			return err
		}
	}
	orphans := 0
	for e, err := range objects.List(ctx) {
		if err != nil {
			return err
		}
		if e.SHA256 == "" || recs.offloaded[e.SHA256] == nil {
			orphans++
			fmt.Fprintf(stdout, "%s: object no record names (an orphan: harmless, not deleted)\n", e.Key)
		}
	}
	if orphans > 0 {
		fmt.Fprintf(stdout, "%d orphaned objects in the bucket\n", orphans)
	}
	return nil
}

// readFile reads a committed file of at most max bytes.
func readFile(ctx context.Context, site *siteRepo, path string, max int64) ([]byte, error) {
	rc, _, err := site.repo.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, max))
}
