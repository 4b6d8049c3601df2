package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"spano/repo"
)

// runUnblock is "spano unblock": when the remote refuses a commit for
// good (a file over the host's limit, a protected branch), it takes that
// commit off the push queue, re-applies the commits after it without it,
// and pushes them. The remote's history is untouched: no force push. The
// dropped commit is kept under refs/spano/refused/<hash>.
//
// It works on the repository directly, so spano serve must be stopped;
// the clone's push lock, which serve holds, makes it refuse otherwise.
func runUnblock(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset, configPath := newFlags("unblock", stderr)
	commit := fset.String("commit", "", "drop this unpushed commit, `HASH` or a prefix of it (default: the one the remote refuses)")
	timeout := fset.Duration("timeout", 10*time.Minute, "how long to wait for the push of the other commits")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return fmt.Errorf("unblock: unexpected argument %q", fset.Arg(0))
	}
	cfg, _, err := commandConfig(*configPath)
	if err != nil {
		return err
	}
	if cfg.Repo.Remote == "" || repo.PushMode(cfg.Repo.Push) == repo.PushOff {
		return errors.New("unblock: nothing is pushed (repo.remote is empty or repo.push is off)")
	}
	if _, err := os.Stat(filepath.Join(cfg.Repo.Path, "HEAD")); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("unblock: no repository at %s", cfg.Repo.Path)
	}
	log, err := newLogger(stderr, cfg.Log)
	if err != nil {
		return err
	}
	r, err := repo.Open(ctx, repoOptionsFromConfig(cfg, log, nil))
	if err != nil {
		return fmt.Errorf("unblock: %w", err)
	}
	res, err := r.Unblock(ctx, *commit)
	if err != nil {
		r.Close(context.Background())
		if errors.Is(err, repo.ErrLocked) {
			return fmt.Errorf("%w; stop spano serve, then run spano unblock again", err)
		}
		return err
	}
	fmt.Fprintf(stdout, "dropped %s %q\nkept at %s\nre-applied %d commits after it\n",
		res.Dropped.Hash, res.Dropped.Message.Subject, res.Ref, res.Reapplied)

	pushCtx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	err = r.Close(pushCtx)
	var b *repo.PushBlockedError
	if errors.As(err, &b) {
		return fmt.Errorf("unblock: the remote refuses another commit, %.12s: %s; run spano unblock again", b.Commit, b.Reason)
	}
	if err != nil {
		return fmt.Errorf("unblock: the others are not pushed yet (spano serve pushes them when it starts): %w", err)
	}
	fmt.Fprintf(stdout, "pushed the others to %s %s\n", repo.RedactURL(cfg.Repo.Remote), cfg.Repo.Branch)
	return nil
}
