package repo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/config"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// ensure makes sure a bare repository with the branch's HEAD exists at
// the path: cloned from the remote when there is one, else new.
func (r *Repo) ensure(ctx context.Context) error {
	path := r.opts.Path
	if _, err := os.Stat(filepath.Join(path, "HEAD")); err == nil {
		return r.configure()
	} else if r.opts.ReadOnly {
		return fmt.Errorf("open repository %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create repository: %w", err)
	}
	// Clone or init beside the final path, then rename, so that a crash
	// half-way leaves no half repository behind.
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".clone-")
	if err != nil {
		return fmt.Errorf("create repository: %w", err)
	}
	defer os.RemoveAll(tmp)

	if r.opts.Remote != "" {
		r.log.Info("cloning site repository", "remote", RedactURL(r.opts.Remote), "branch", r.opts.Branch, "path", path)
		_, err := git.PlainCloneContext(ctx, tmp, true, &git.CloneOptions{
			URL:           r.opts.Remote,
			Auth:          r.auth,
			ReferenceName: r.branch,
			SingleBranch:  true,
			Tags:          git.NoTags,
		})
		switch {
		case errors.Is(err, transport.ErrEmptyRemoteRepository):
			r.log.Info("remote is empty; starting the branch", "branch", r.opts.Branch)
			if err := os.RemoveAll(tmp); err != nil {
				return fmt.Errorf("create repository: %w", err)
			}
			if err := initBare(tmp, r.branch); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("clone %s (branch %s): %w", RedactURL(r.opts.Remote), r.opts.Branch, err)
		}
	} else {
		if err := initBare(tmp, r.branch); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("create repository: %w", err)
	}
	return r.configure()
}

func initBare(path string, branch plumbing.ReferenceName) error {
	_, err := git.PlainInitWithOptions(path, &git.PlainInitOptions{
		Bare:        true,
		InitOptions: git.InitOptions{DefaultBranch: branch},
	})
	if err != nil {
		return fmt.Errorf("init repository: %w", err)
	}
	return nil
}

// configure records the remote in the repository's config, so that git
// commands run by a person on the clone see what spano sees.
func (r *Repo) configure() error {
	st := r.newStorage()
	defer st.Close()
	cfg, err := st.Config()
	if err != nil {
		return fmt.Errorf("read repository config: %w", err)
	}
	if !cfg.Core.IsBare {
		return fmt.Errorf("repository %s is not bare", r.opts.Path)
	}
	changed := false
	if cfg.Core.RepositoryFormatVersion == "" && !r.opts.ReadOnly {
		// go-git's init leaves it out, and without it git takes the
		// folder for no repository at all ("rev-parse
		// --is-bare-repository" says false); git's own init writes 0.
		cfg.Core.RepositoryFormatVersion = config.Version_0
		changed = true
	}
	if r.opts.Remote == "" {
		return r.writeConfig(st, cfg, changed)
	}
	want := &gitconfig.RemoteConfig{
		Name:  "origin",
		URLs:  []string{r.opts.Remote},
		Fetch: []gitconfig.RefSpec{gitconfig.RefSpec("+" + r.branch.String() + ":" + r.track.String())},
	}
	if old, ok := cfg.Remotes["origin"]; !ok || len(old.URLs) != 1 || old.URLs[0] != r.opts.Remote {
		cfg.Remotes["origin"] = want
		changed = true
	}
	return r.writeConfig(st, cfg, changed)
}

func (r *Repo) writeConfig(st *storage, cfg *gitconfig.Config, changed bool) error {
	if !changed || r.opts.ReadOnly {
		return nil
	}
	if err := st.SetConfig(cfg); err != nil {
		return fmt.Errorf("write repository config: %w", err)
	}
	return nil
}
