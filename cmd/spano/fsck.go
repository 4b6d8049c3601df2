package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	"spano/hashstore"
)

// runFsck is "spano fsck": every file under media.dir on the branch has
// a well-formed content-addressed path, every original's bytes hash to
// its name, and every thumbnail has its original. Problems are listed on
// stdout, one per line, and make the command fail.
func runFsck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset, configPath := newFlags("fsck", stderr)
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
	for i, ref := range thumbs {
		if !originals[ref.SHA256] {
			report(thumbPaths[i], "thumbnail without its original")
		}
	}
	fmt.Fprintf(stdout, "checked %d originals and %d thumbnails under %s: %d problems\n",
		checked, len(thumbs), cfg.Media.Dir, problems)
	if problems > 0 {
		return fmt.Errorf("fsck: %d problems", problems)
	}
	return nil
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
