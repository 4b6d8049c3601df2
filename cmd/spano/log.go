package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"spano/record"
	"spano/repo"
)

// logEntry is one line of "spano log": a media file added to or deleted
// from the branch.
type logEntry struct {
	Time     time.Time `json:"time"`
	Action   string    `json:"action"` // "add" or "delete"
	URL      string    `json:"url"`
	Type     string    `json:"type"`
	Size     int64     `json:"size,omitempty"` // 0 when the commit did not say
	SHA256   string    `json:"sha256"`
	Client   string    `json:"client,omitempty"`
	Filename string    `json:"filename,omitempty"`
	Commit   string    `json:"commit"`
}

// runLog is "spano log": the media history of the branch, newest first,
// read from the commits and their trailers, what an author would
// otherwise dig out of git log.
func runLog(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset, configPath := newFlags("log", stderr)
	n := fset.Int("n", 0, "show at most `N` entries (0: all)")
	asJSON := fset.Bool("json", false, "print one JSON object per line")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if fset.NArg() > 0 {
		return fmt.Errorf("log: unexpected argument %q", fset.Arg(0))
	}
	if *n < 0 {
		return errors.New("log: -n must not be negative")
	}
	cfg, _, err := commandConfig(*configPath)
	if err != nil {
		return err
	}
	site, err := openSite(ctx, cfg)
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	defer site.Close()

	var out func(logEntry) error
	var tw *tabwriter.Writer
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		out = func(e logEntry) error { return enc.Encode(e) }
	} else {
		tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tACTION\tURL\tTYPE\tSIZE\tCLIENT\tFILENAME")
		out = func(e logEntry) error {
			size := "-"
			if e.Size > 0 {
				size = strconv.FormatInt(e.Size, 10)
			}
			_, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format("2006-01-02 15:04:05 -0700"),
				e.Action, e.URL, e.Type, size, dash(e.Client), dash(e.Filename))
			return err
		}
	}
	count := 0
	err = site.repo.Walk(ctx, func(c repo.CommitInfo) error {
		for _, e := range site.events(c) {
			if err := out(e); err != nil {
				return err
			}
			count++
			if *n > 0 && count >= *n {
				return repo.ErrStopWalk
			}
		}
		return nil
	})
	if tw != nil {
		if ferr := tw.Flush(); err == nil {
			err = ferr
		}
	}
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// events lists the originals c added and deleted, described by their
// records.
func (s *siteRepo) events(c repo.CommitInfo) []logEntry {
	var out []logEntry
	for _, side := range []struct {
		action string
		paths  []string
	}{{"add", c.Added}, {"delete", c.Deleted}} {
		for _, p := range side.paths {
			rec, ok := record.FromCommit(c, s.layout, p)
			if !ok {
				continue
			}
			out = append(out, logEntry{Time: c.Time, Action: side.action, URL: rec.URL, Type: rec.Type,
				Size: max(rec.Size, 0), SHA256: rec.SHA256, Client: rec.Client, Filename: rec.Filename, Commit: c.Hash})
		}
	}
	return out
}
