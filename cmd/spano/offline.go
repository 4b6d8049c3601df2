package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"spano/config"
	"spano/hashstore"
	"spano/record"
	"spano/repo"
)

// commandConfig loads the config the way serve finds it (-config,
// $SPANO_CONFIG, ./_config.yml); without a file it is the embedded
// default on its default listen address. path is "" in that case.
func commandConfig(flagPath string) (cfg config.Config, path string, err error) {
	path, err = findConfig(flagPath, os.Getenv)
	if err != nil {
		return cfg, "", err
	}
	if path == "" {
		return config.Embedded(config.Default().Listen), "", nil
	}
	cfg, err = config.Load(path, os.Getenv)
	return cfg, path, err
}

// newFlags is a command's flag set, writing usage to stderr and taking
// -config like serve.
func newFlags(name string, stderr io.Writer) (*flag.FlagSet, *string) {
	fset := flag.NewFlagSet(name, flag.ContinueOnError)
	fset.SetOutput(stderr)
	configPath := fset.String("config", "", "config file (default $SPANO_CONFIG, else ./_config.yml, else the embedded default)")
	return fset, configPath
}

// siteRepo is the repository and media layout of a config, opened for
// reading by log and fsck: no remote, no push, nothing created.
type siteRepo struct {
	repo   *repo.Repo
	store  *hashstore.Store
	layout record.Layout
	tmp    string
}

// openSite opens cfg's repository without a remote, so nothing is
// fetched or pushed. A missing repository is an error rather than a new
// empty one.
func openSite(ctx context.Context, cfg config.Config) (*siteRepo, error) {
	if _, err := os.Stat(filepath.Join(cfg.Repo.Path, "HEAD")); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no repository at %s (spano serve creates it)", cfg.Repo.Path)
	}
	// The store is used for its layout only; its temp folder is never
	// written, and is made in the system's temp dir so that a read
	// command leaves nothing in data_dir.
	tmp, err := os.MkdirTemp("", "spano-")
	if err != nil {
		return nil, err
	}
	store, err := newStoreFromConfig(cfg, tmp)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	r, err := repo.Open(ctx, repo.Options{Path: cfg.Repo.Path, Branch: cfg.Repo.Branch, ReadOnly: true})
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return &siteRepo{repo: r, store: store, layout: newLayoutFromConfig(cfg, store), tmp: tmp}, nil
}

func (s *siteRepo) Close() error {
	err := s.repo.Close(context.Background())
	os.RemoveAll(s.tmp)
	return err
}
