package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"spano/config"
	"spano/sitekit"
)

// runKit is "spano kit": it writes the template helpers that render an
// upload's record (<picture> with srcset, <video>, <audio>) into a
// checkout of the site, for the media layout of the same config serve
// reads. A helper the site's owner edited is kept unless -force.
func runKit(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fset, configPath := newFlags("kit", stderr)
	generator := fset.String("generator", "", "`jekyll` or hugo (default: site.generator)")
	sizes := fset.String("sizes", "", "default `sizes` attribute (default \""+sitekit.DefaultSizes+"\")")
	force := fset.Bool("force", false, "replace helpers the site's owner changed")
	fset.Usage = func() {
		fmt.Fprintln(stderr, "Usage: spano kit [-config F] -generator jekyll|hugo [-sizes S] [-force] DIR")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		return err
	}
	if fset.NArg() != 1 {
		fset.Usage()
		return errors.New("kit: give the site's folder")
	}
	dir := fset.Arg(0)
	cfg, _, err := commandConfig(*configPath)
	if err != nil {
		return err
	}
	gen := *generator
	if gen == "" {
		gen = cfg.Site.Generator
	}
	results, err := sitekit.Write(dir, sitekit.Options{
		Generator: gen,
		Depth:     cfg.Media.Depth,
		Width:     cfg.Media.Width,
		Sizes:     *sizes,
		Force:     *force,
	})
	for _, r := range results {
		fmt.Fprintf(stdout, "%-11s %s\n", r.Action, r.Path)
	}
	if err != nil {
		return fmt.Errorf("kit: %w", err)
	}
	for _, note := range kitNotes(cfg, gen) {
		fmt.Fprintln(stdout, "note:", note)
	}
	return nil
}

// kitDataDir is the site folder that spano writes records under
// (<kitDataDir>/spano/…) and the generator reads data files from: the
// config's site.data_dir, or the default of a -generator that differs
// from the config's.
func kitDataDir(cfg config.Config, generator string) string {
	if generator == cfg.Site.Generator {
		return cfg.Site.DataDir
	}
	return config.DefaultDataDir(generator)
}

// kitNotes says what else the site needs for the helpers to find the
// records and the media, where the config does not match the generator's
// defaults.
func kitNotes(cfg config.Config, generator string) []string {
	data := strings.Trim(kitDataDir(cfg, generator), "/")
	notes := []string{fmt.Sprintf("the helpers read records from %s/spano/ in the site", data)}
	switch generator {
	case config.GeneratorJekyll:
		if data != "_data" {
			notes = append(notes, fmt.Sprintf("set data_dir: %s in the site's _config.yml, or Jekyll will not read the records", data))
		}
	case config.GeneratorHugo:
		if data != "data" {
			notes = append(notes, fmt.Sprintf("set dataDir = %q in the site's Hugo config, or Hugo will not read the records", data))
		}
		if dir := path.Clean(cfg.Media.Dir); dir != "static" && !strings.HasPrefix(dir, "static/") {
			notes = append(notes, fmt.Sprintf("media.dir %q is outside static/: Hugo will not publish the media", cfg.Media.Dir))
		}
	}
	if gen := cfg.Site.Generator; gen != generator {
		notes = append(notes, fmt.Sprintf("site.generator is %s in the config; spano serve lays out media for %s", gen, gen))
	}
	return notes
}
